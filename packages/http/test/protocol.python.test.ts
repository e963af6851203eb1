/**
 * Differential tests against the real CPython (`json.loads`, `repr(float)`, `bytes.fromhex`),
 * run only where a `python3` is on PATH. Thousands of generated inputs, fixed seeds.
 */
import * as Either from "effect/Either"
import { execFileSync } from "node:child_process"
import { describe, expect, it } from "vitest"
import { pyFromHex } from "../src/Protocol/Fields.js"
import { pyFloatRepr, pyJsonDumps } from "../src/Protocol/PyFormat.js"
import { parse } from "../src/Protocol/PyJson.js"

const hasPython = (() => {
  try {
    execFileSync("python3", ["-c", "import json"], { stdio: "ignore" })
    return true
  } catch {
    return false
  }
})()

const GENERATOR = String.raw`
import json, random, struct, sys
random.seed(int(sys.argv[1]))
atoms = ['{', '}', '[', ']', ',', ':', '"', '\\', 'a', '1', '0', '-', '.', 'e', 'E', '+', ' ', '\n', '\t', 'null', 'true',
         'false', 'NaN', 'Infinity', '-Infinity', '"k"', '"v"', '\\u00e9', '\\ud83d', '\\ude00', 'é', '\x01',
         '12345678901234567890', '1.5', '1e5', '{"a":1}', '[1,2]', 'u', 'x', '\x7f']
docs = ['{"a":1}', '[1, "é✓😀"]', '"x"', '12', '{"k": [true, null]}', ' {"v":"\\ud83d\\ude00"} ']
def run(b):
    try:
        return 'OK ' + json.dumps(json.loads(b), ensure_ascii=True, allow_nan=True)
    except Exception as e:
        return 'ERR ' + str(e)
cases = []
for i in range(3000):
    kind = random.randint(0, 4)
    if kind == 0:
        b = ''.join(random.choice(atoms) for _ in range(random.randint(0, 10))).encode('utf-8', 'surrogatepass')
    elif kind == 1:
        b = bytes(random.randint(0, 255) for _ in range(random.randint(0, 6)))
    elif kind == 2:
        b = bytes(random.choice([0x7b, 0x7d, 0x22, 0x61, 0x31, 0x00, 0xc3, 0xa9, 0xe2, 0x9c, 0x93, 0xf0, 0x9f, 0xed, 0xa0, 0x80,
                                 0xff, 0xfe, 0xef, 0xbb, 0xbf, 0x20]) for _ in range(random.randint(0, 8)))
    else:
        b = random.choice(docs).encode(random.choice(['utf-8', 'utf-8-sig', 'utf-16', 'utf-16-le', 'utf-16-be', 'utf-32', 'utf-32-le', 'utf-32-be']))
        if kind == 4 and len(b) > 0:
            k = random.randint(0, len(b) - 1)
            b = b[:k] + b[k+1:] if random.random() < 0.5 else b[:k] + bytes([random.randint(0, 255)]) + b[k+1:]
    cases.append({'hex': b.hex(), 'r': run(b)})
floats = []
for i in range(2000):
    x = struct.unpack('<d', bytes(random.randint(0, 255) for _ in range(8)))[0] if i % 2 else random.choice([1, -1]) * random.random() * 10 ** random.randint(-8, 20)
    floats.append({'hex': struct.pack('<d', x).hex(), 'r': repr(x)})
hexes = []
for i in range(2000):
    s = ''.join(random.choice('0123456789abcdefABCDEF xg\t\n\x0bé') for _ in range(random.randint(0, 8)))
    try:
        r = 'OK ' + bytes.fromhex(s).hex()
    except Exception as e:
        r = 'ERR ' + str(e)
    hexes.append({'s': s, 'r': r})
print(json.dumps({'json': cases, 'floats': floats, 'hex': hexes}))
`

describe.skipIf(!hasPython)("Protocol vs CPython (differential)", () => {
  for (const seed of [1, 2]) {
    const data = hasPython
      ? JSON.parse(execFileSync("python3", ["-c", GENERATOR, String(seed)], { maxBuffer: 64 * 1024 * 1024 }).toString("utf8"))
      : { json: [], floats: [], hex: [] }

    it(`json.loads results and error texts (seed ${seed})`, () => {
      const mismatches = (data.json as Array<{ hex: string; r: string }>).filter((c) => {
        const r = parse(new Uint8Array(Buffer.from(c.hex, "hex")))
        return (Either.isLeft(r) ? "ERR " + r.left.message : "OK " + pyJsonDumps(r.right)) !== c.r
      })
      expect(mismatches.slice(0, 5)).toEqual([])
    })

    it(`repr(float) (seed ${seed})`, () => {
      const mismatches = (data.floats as Array<{ hex: string; r: string }>).filter((c) =>
        pyFloatRepr(Buffer.from(c.hex, "hex").readDoubleLE(0)) !== c.r
      )
      expect(mismatches.slice(0, 5)).toEqual([])
    })

    it(`bytes.fromhex (seed ${seed})`, () => {
      const mismatches = (data.hex as Array<{ s: string; r: string }>).filter((c) => {
        const r = pyFromHex(c.s)
        return (r.ok ? "OK " + Buffer.from(r.bytes).toString("hex") : "ERR " + r.error) !== c.r
      })
      expect(mismatches.slice(0, 5)).toEqual([])
    })
  }
})
