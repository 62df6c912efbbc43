/**
 * Subscription patterns at the type level: NATS subject semantics over
 * dotted event types, `*` standing for exactly one token and `>` for one or
 * more trailing tokens, so that `subscribe("agent.task.*", ...)` knows which
 * generated event types it can receive.
 */

/** The dot-separated tokens of a string literal. */
export type Tokens<S extends string> = S extends `${infer Head}.${infer Rest}` ? [Head, ...Tokens<Rest>] : [S];

type MatchTokens<P extends readonly string[], T extends readonly string[]> = P extends [">"]
  ? T extends [string, ...string[]]
    ? true
    : false
  : P extends [infer PH extends string, ...infer PR extends string[]]
    ? T extends [infer TH extends string, ...infer TR extends string[]]
      ? PH extends "*"
        ? MatchTokens<PR, TR>
        : [PH] extends [TH]
          ? [TH] extends [PH]
            ? MatchTokens<PR, TR>
            : false
          : false
      : false
    : T extends []
      ? true
      : false;

/**
 * `true` when the literal pattern `P` matches the literal event type `T`
 * (`*` one token, `>` one or more trailing tokens). A pattern of type
 * `string` (not known at compile time) matches every type.
 */
export type PatternMatches<P extends string, T extends string> = string extends P ? true : MatchTokens<Tokens<P>, Tokens<T>>;

/** `true` when any pattern of the union `P` matches `T`. */
export type AnyPatternMatches<P extends string, T extends string> = true extends (P extends string ? PatternMatches<P, T> : never) ? true : false;

/** The members of the union of event types `Types` that `P` matches. */
export type TypesMatching<Types extends string, P extends string> = Types extends string ? (AnyPatternMatches<P, Types> extends true ? Types : never) : never;
