// The Android Publisher fake lives in the package source because the fixture replay (`npm run replay`,
// packages/http/src/Replay) serves recorded answers through it too.
export * from "../../src/Google/testing/AndroidPublisherFake.js"
