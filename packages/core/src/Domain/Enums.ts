/** Enumerations as stored in the database and sent on the wire (integers). */
export const PaymentProvider = { Nil: 0, GooglePlayStore: 1, iOSAppStore: 2, Rangeproof: 3 } as const
export type PaymentProvider = (typeof PaymentProvider)[keyof typeof PaymentProvider]

export const PaymentStatus = { Nil: 0, Unredeemed: 1, Redeemed: 2, Expired: 3, Revoked: 4 } as const
export type PaymentStatus = (typeof PaymentStatus)[keyof typeof PaymentStatus]

export const ProPlan = { Nil: 0, OneMonth: 1, ThreeMonth: 2, TwelveMonth: 3 } as const
export type ProPlan = (typeof ProPlan)[keyof typeof ProPlan]

export const UserProStatus = { NeverBeenPro: 0, Active: 1, Expired: 2 } as const
export type UserProStatus = (typeof UserProStatus)[keyof typeof UserProStatus]

/** Envelope `status` values (protocol.md §1.4). */
export const ResponseStatus = { Success: 0, GenericError: 1, ParseError: 2, AlreadyRedeemed: 100, UnknownPayment: 101 } as const
export type ResponseStatus = (typeof ResponseStatus)[keyof typeof ResponseStatus]

const nameOf = <T extends Record<string, number>>(e: T) => (v: number): string =>
  Object.entries(e).find(([, n]) => n === v)?.[0] ?? String(v)

export const paymentProviderName = nameOf(PaymentProvider)
export const paymentStatusName = nameOf(PaymentStatus)
export const proPlanName = nameOf(ProPlan)

/** `ProPlan.from_string`: enum *names*, case-insensitive (so "nil" matches too, FLAG-31). */
export const proPlanFromString = (s: string): ProPlan | undefined => {
  const hit = Object.entries(ProPlan).find(([name]) => name.toLowerCase() === s.toLowerCase())
  return hit?.[1]
}

/** CLI short forms `1M` / `3M` / `12M`, and the enum names. */
export const proPlanFromCli = (s: string): ProPlan | undefined => {
  switch (s.toUpperCase()) {
    case "1M":
      return ProPlan.OneMonth
    case "3M":
      return ProPlan.ThreeMonth
    case "12M":
      return ProPlan.TwelveMonth
  }
  const p = proPlanFromString(s)
  return p === ProPlan.Nil ? undefined : p
}

export const isPaymentProvider = (n: number): n is PaymentProvider => n === 0 || n === 1 || n === 2 || n === 3
