/**
 * Test kit for the Apple integration: a throwaway certificate chain shaped like Apple's (root →
 * intermediate with OID 1.2.840.113635.100.6.2.1 → leaf with OID 1.2.840.113635.100.6.11.1, which is
 * what SignedDataVerifier checks besides signatures, issuer names, CA flag and dates), generated with
 * the openssl CLI at test time, and an ES256 JWS signer with the `x5c` header Apple uses.
 */
import { execFileSync } from "node:child_process"
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { AppleConfig } from "@session-pro/stores"

export interface Cert {
  readonly der: Buffer
  readonly pem: string
  readonly key: crypto.KeyObject
}
export interface Chain {
  readonly root: Cert
  readonly intermediate: Cert
  readonly leaf: Cert
}

const run = (dir: string, args: ReadonlyArray<string>) => execFileSync("openssl", args as string[], { cwd: dir, stdio: "pipe" })

const load = (dir: string, name: string): Cert => {
  const pem = fs.readFileSync(path.join(dir, `${name}.pem`), "utf8")
  return {
    pem,
    der: new crypto.X509Certificate(pem).raw,
    key: crypto.createPrivateKey(fs.readFileSync(path.join(dir, `${name}.key`)))
  }
}

export interface ChainOptions {
  /** Leave out the Apple marker OID on the intermediate / leaf (negative tests). */
  readonly intermediateOid?: boolean
  readonly leafOid?: boolean
  readonly name?: string
}

/** root → intermediate → leaf, P-256, valid from now − 1 day for ~10 years. */
export const makeChain = (options: ChainOptions = {}): Chain => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "apple-chain-"))
  const name = options.name ?? "Test"
  try {
    fs.writeFileSync(
      path.join(dir, "ext.cnf"),
      [
        "[ca]",
        "basicConstraints = critical, CA:true",
        "keyUsage = critical, keyCertSign, cRLSign",
        "subjectKeyIdentifier = hash",
        "[int]",
        "basicConstraints = critical, CA:true, pathlen:0",
        "keyUsage = critical, keyCertSign, cRLSign",
        ...(options.intermediateOid === false ? [] : ["1.2.840.113635.100.6.2.1 = ASN1:NULL"]),
        "[leaf]",
        "basicConstraints = critical, CA:false",
        "keyUsage = critical, digitalSignature",
        ...(options.leafOid === false ? [] : ["1.2.840.113635.100.6.11.1 = ASN1:NULL"]),
        ""
      ].join("\n")
    )
    for (const k of ["root", "int", "leaf"]) run(dir, ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", `${k}.key`])
    run(dir, [
      "req", "-x509", "-new", "-key", "root.key", "-subj", `/CN=${name} Root CA/O=Test/C=US`, "-days", "3650",
      "-extensions", "ca", "-config", "ext.cnf", "-out", "root.pem"
    ])
    run(dir, ["req", "-new", "-key", "int.key", "-subj", `/CN=${name} WWDR Intermediate/O=Test/C=US`, "-out", "int.csr", "-config", "ext.cnf"])
    run(dir, [
      "x509", "-req", "-in", "int.csr", "-CA", "root.pem", "-CAkey", "root.key", "-CAcreateserial", "-days", "3000",
      "-extfile", "ext.cnf", "-extensions", "int", "-out", "int.pem"
    ])
    run(dir, ["req", "-new", "-key", "leaf.key", "-subj", `/CN=${name} Store Receipt Signing/O=Test/C=US`, "-out", "leaf.csr", "-config", "ext.cnf"])
    run(dir, [
      "x509", "-req", "-in", "leaf.csr", "-CA", "int.pem", "-CAkey", "int.key", "-CAcreateserial", "-days", "2000",
      "-extfile", "ext.cnf", "-extensions", "leaf", "-out", "leaf.pem"
    ])
    return { root: load(dir, "root"), intermediate: load(dir, "int"), leaf: load(dir, "leaf") }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString("base64url")

/** ES256 JWS with `x5c` = the given certificates (Apple sends leaf, intermediate, root). */
export const signJws = (
  payload: unknown,
  signer: crypto.KeyObject,
  x5c: ReadonlyArray<Buffer>
): string => {
  const header = { alg: "ES256", x5c: x5c.map((c) => c.toString("base64")) }
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`
  const sig = crypto.sign("sha256", Buffer.from(input), { key: signer, dsaEncoding: "ieee-p1363" })
  return `${input}.${b64url(sig)}`
}

export const chainJws = (chain: Chain, payload: unknown) =>
  signJws(payload, chain.leaf.key, [chain.leaf.der, chain.intermediate.der, chain.root.der])

/** Replace the payload of a JWS, keeping header and signature (a tampered notification). */
export const tamper = (jws: string, mutate: (claims: any) => any): string => {
  const [h, p, s] = jws.split(".")
  const claims = JSON.parse(Buffer.from(p!, "base64url").toString("utf8"))
  return `${h}.${b64url(JSON.stringify(mutate(claims)))}.${s}`
}

// ---------------------------------------------------------------------------------------------
// Notification builders

export const BUNDLE = "com.example.session.test"
export const PRODUCT_1M = "com.getsession.org.pro_sub_1_month"
export const PRODUCT_3M = "com.getsession.org.pro_sub_3_months"
export const HOUR = 3_600_000
export const DAY = 86_400_000

export interface TxSpec {
  readonly orig: string
  readonly tx: string
  readonly web?: string
  readonly product?: string
  readonly purchase: number
  readonly expires?: number | undefined
  readonly type?: string
  readonly revocationDate?: number
  readonly environment?: string
  readonly bundleId?: string
  readonly appAccountToken?: string
}

export const txClaims = (t: TxSpec, signedDate: number) => ({
  transactionId: t.tx,
  originalTransactionId: t.orig,
  webOrderLineItemId: t.web ?? `${t.tx}9`,
  bundleId: t.bundleId ?? BUNDLE,
  productId: t.product ?? PRODUCT_1M,
  subscriptionGroupIdentifier: "21752814",
  purchaseDate: t.purchase,
  originalPurchaseDate: t.purchase,
  ...(t.expires === undefined ? {} : { expiresDate: t.expires }),
  quantity: 1,
  type: t.type ?? "Auto-Renewable Subscription",
  inAppOwnershipType: "PURCHASED",
  signedDate,
  environment: t.environment ?? "Sandbox",
  transactionReason: "PURCHASE",
  ...(t.revocationDate === undefined ? {} : { revocationDate: t.revocationDate, revocationReason: 0 }),
  ...(t.appAccountToken === undefined ? {} : { appAccountToken: t.appAccountToken }),
  storefront: "AUS",
  price: 1990,
  currency: "AUD"
})

export interface NotificationSpec {
  readonly type: string
  readonly subtype?: string
  readonly uuid?: string
  readonly signedDate?: number
  readonly tx?: TxSpec
  readonly renewal?: Record<string, unknown>
  readonly environment?: string
  readonly bundleId?: string
  readonly appAppleId?: number
  readonly summary?: Record<string, unknown>
  /** No `data` at all (summary-style or TEST without data). */
  readonly noData?: boolean
}

let counter = 0
export const newUuid = () => crypto.randomUUID()

export const notificationJws = (chain: Chain, spec: NotificationSpec): string => {
  const signedDate = spec.signedDate ?? Date.now()
  const env = spec.environment ?? "Sandbox"
  const data = spec.noData
    ? undefined
    : {
      appAppleId: spec.appAppleId ?? 1470168868,
      bundleId: spec.bundleId ?? BUNDLE,
      bundleVersion: "1",
      environment: env,
      status: 1,
      ...(spec.tx ? { signedTransactionInfo: chainJws(chain, txClaims({ environment: env, ...spec.tx }, signedDate)) } : {}),
      ...(spec.renewal
        ? {
          signedRenewalInfo: chainJws(chain, {
            originalTransactionId: spec.tx?.orig,
            productId: spec.tx?.product ?? PRODUCT_1M,
            autoRenewProductId: spec.tx?.product ?? PRODUCT_1M,
            autoRenewStatus: 1,
            signedDate,
            environment: env,
            ...spec.renewal
          })
        }
        : {})
    }
  counter++
  return chainJws(chain, {
    notificationType: spec.type,
    ...(spec.subtype ? { subtype: spec.subtype } : {}),
    notificationUUID: spec.uuid ?? newUuid(),
    version: "2.0",
    signedDate,
    ...(data ? { data } : {}),
    ...(spec.summary ? { summary: spec.summary } : {})
  })
}

/**
 * The notifications configuration of the tests: the test bundle, Sandbox, `chain`'s root as the
 * only trusted root, no online checks, the default product plans; `over` on top (retryWindowMs
 * defaults to 0: no retries).
 */
export const notificationsConfig = (
  chain: Chain,
  over: Partial<AppleConfig.AppleNotificationsConfig> = {}
): AppleConfig.AppleNotificationsConfig => ({
  bundleId: BUNDLE,
  appAppleId: 1470168868,
  environment: "Sandbox",
  rootCertificates: [chain.root.der],
  enableOnlineChecks: false,
  productPlans: AppleConfig.DEFAULT_PRODUCT_PLANS,
  retryWindowMs: 0,
  ...over
})
