/**
 * Regular expressions from callers (JSON Schema `pattern` and
 * `patternProperties`, filter `matches`) run on RE2 (the `re2js` port):
 * matching takes time linear in the input, whatever the pattern, so no
 * pattern can stall the server the way `^(a+)+$` stalls a backtracking
 * engine.
 *
 * Accepted syntax: RE2's, written as in JavaScript: character classes,
 * `\d \w \s \b`, Unicode classes `\p{L}`, `\uXXXX` and `\u{X}` escapes,
 * anchors, `* + ? {n,m}` (greedy and lazy, counts up to 1000), groups
 * `(...)`, `(?:...)`, `(?<name>...)`, inline flags `(?i)`. Refused:
 * lookahead and lookbehind (`(?=`, `(?!`, `(?<=`, `(?<!`) and
 * backreferences (`\1`, `\k<name>`), which no linear-time engine can run.
 *
 * Simple expressions that a backtracking engine also runs in linear time
 * (`^t-[0-9]+$`, see backtrack-free.ts) run on the engine's own RegExp,
 * with the same results.
 */
import { RE2JS } from "re2js";
import { backtrackFreeRegExp } from "./backtrack-free.js";
import { thrownError } from "../thrown-error.js";

/** A compiled expression: `test` finds a match anywhere in the input, as `RegExp.prototype.test` does. */
export interface LinearRegex {
  /** The expression as given. */
  readonly source: string;
  /** True when the expression matches somewhere in `input`. */
  test(input: string): boolean;
}

/** Why an expression is refused; `tooLarge` when it is over the size limit rather than invalid. */
export class RegexError extends Error {
  constructor(
    message: string,
    /** True when the expression is valid but over the size limit. */
    readonly tooLarge: boolean,
  ) {
    super(message);
    this.name = "RegexError";
  }
}

const BACKREFERENCE = /\\(?:[1-9]|k<)/;

/**
 * Compiles `source` for linear-time matching. Throws a {@link RegexError}
 * saying why when RE2 cannot run it or when it is over `maxSize` characters
 * or RE2 program instructions.
 */
export function compileLinearRegex(source: string, maxSize: number): LinearRegex {
  if (source.length > maxSize) throw new RegexError(`is ${source.length} characters long, over the limit of ${maxSize}`, true);
  if (BACKREFERENCE.test(source)) throw new RegexError("uses a backreference, which the linear-time (RE2) engine does not support", false);
  let compiled: RE2JS;
  try {
    compiled = RE2JS.compile(RE2JS.translateRegExp(source));
  } catch (error) {
    const reason = error instanceof Error ? error.message.replace(/^error parsing regexp: /, "") : String(error);
    const hint = /\(\?[=!]|\(\?<[=!]/.test(source) ? " (lookahead and lookbehind are not supported)" : "";
    throw new RegexError(`is not a regular expression the linear-time (RE2) engine accepts: ${reason}${hint}`, false);
  }
  const size = compiled.programSize();
  if (size > maxSize) throw new RegexError(`compiles to ${size} RE2 instructions, over the limit of ${maxSize}`, true);
  // RE2 compiled it first either way: what is refused, and why, does not depend on the engine that runs it.
  const native = backtrackFreeRegExp(source);
  if (native !== undefined) return { source, test: (input) => native.test(input) };
  return { source, test: (input) => compiled.test(input) };
}

/** Why `source` is refused, or undefined when it compiles within `maxSize`. */
export function regexError(source: string, maxSize: number): RegexError | undefined {
  return thrownError(RegexError, () => compileLinearRegex(source, maxSize));
}
