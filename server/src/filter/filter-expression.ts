/**
 * Subscription filters: a small expression language over the envelope,
 * written as a subset of CEL so that a filter stays valid if the server ever
 * evaluates full CEL. Compiled once to a closure tree; evaluating it decodes
 * nothing beyond the envelope.
 *
 * ```
 * subject == "agent-7"
 * attributes.role == "planner" && priority <= 2
 * attributes["team-id"] in ["a", "b"] || "urgent" in tags
 * has(attributes.tenant) && !source.startsWith("test/")
 * ```
 *
 * Fields: `id`, `source`, `type`, `subject`, `correlation_id`,
 * `causation_id`, `ordering_key`, `data_content_type`, `data_schema`
 * (strings), `priority` (number), `tags` (list of strings), `attributes`
 * (map of strings, read as `attributes.name` or `attributes["any-name"]`).
 * Literals: "strings" or 'strings', integers, `true`, `false`, lists
 * `[...]`. Operators: `==`, `!=`, `<`, `<=`, `>`, `>=`, `in` (list or tags
 * membership), `&&`, `||`, `!`, parentheses; string methods `startsWith`,
 * `endsWith`, `contains`, `matches` (regular expression, RE2 syntax, run in
 * linear time: see linear-regex.ts); `has(attributes.x)`. A missing
 * attribute equals nothing and is in nothing.
 *
 * Limits (flags, see limits.ts): the length of the expression, its nesting
 * depth (parentheses, `!`, lists) and the size of each regular expression.
 * A stored group's filter is compiled under the same limits as a new one.
 */
import type { Event } from "@protobus/sdk/proto";
import { DEFAULT_INPUT_LIMITS } from "../limits.js";
import { compileLinearRegex, RegexError, type LinearRegex } from "../regex/linear-regex.js";
import { thrownError } from "../thrown-error.js";

/** A compiled filter: true when the event passes. */
export type EventPredicate = (event: Event) => boolean;

/** The limits a filter is compiled under. */
export interface FilterLimits {
  /** Longest expression, in characters (`--max-filter-length`). */
  readonly maxFilterLength: number;
  /** Deepest nesting of parentheses, `!` and lists (`--max-filter-depth`). */
  readonly maxFilterDepth: number;
  /** Largest `matches` expression (`--max-regex-size`). */
  readonly maxRegexSize: number;
}

/** The limit a filter is over: the flag, its value, and what the filter had when known. */
export interface FilterLimitHit {
  readonly limit: string;
  readonly max: number;
  readonly actual?: number;
}

/** A filter that does not compile; `position` is the character offset of the problem. */
export class FilterSyntaxError extends Error {
  constructor(
    message: string,
    readonly position: number,
    /** Set when the filter is over a limit rather than malformed. */
    readonly hit?: FilterLimitHit,
  ) {
    super(`${message} at position ${position}`);
    this.name = "FilterSyntaxError";
  }
}

type Value = string | number | boolean | readonly Value[] | undefined;
type Node = (event: Event) => Value;

type Token =
  | { kind: "string"; value: string; pos: number }
  | { kind: "number"; value: number; pos: number }
  | { kind: "ident"; value: string; pos: number }
  | { kind: "op"; value: string; pos: number }
  | { kind: "end"; pos: number };

const OPERATORS = ["==", "!=", "<=", ">=", "&&", "||", "<", ">", "!", "(", ")", "[", "]", ",", "."];

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i] as string;
    if (/\s/.test(c)) {
      i += 1;
      continue;
    }
    if (c === '"' || c === "'") {
      let value = "";
      let j = i + 1;
      for (;;) {
        if (j >= source.length) throw new FilterSyntaxError("unterminated string", i);
        const d = source[j] as string;
        if (d === c) break;
        if (d === "\\") {
          const next = source[j + 1];
          if (next === undefined) throw new FilterSyntaxError("unterminated string", i);
          value += next === "n" ? "\n" : next === "t" ? "\t" : next;
          j += 2;
          continue;
        }
        value += d;
        j += 1;
      }
      tokens.push({ kind: "string", value, pos: i });
      i = j + 1;
      continue;
    }
    const number = /^-?\d+(\.\d+)?/.exec(source.slice(i));
    if (number !== null && (c !== "-" || tokens.at(-1)?.kind === "op")) {
      tokens.push({ kind: "number", value: Number(number[0]), pos: i });
      i += number[0].length;
      continue;
    }
    const ident = /^[A-Za-z_][A-Za-z0-9_]*/.exec(source.slice(i));
    if (ident !== null) {
      tokens.push({ kind: "ident", value: ident[0], pos: i });
      i += ident[0].length;
      continue;
    }
    const op = OPERATORS.find((o) => source.startsWith(o, i));
    if (op === undefined) throw new FilterSyntaxError(`unexpected character '${c}'`, i);
    tokens.push({ kind: "op", value: op, pos: i });
    i += op.length;
  }
  tokens.push({ kind: "end", pos: source.length });
  return tokens;
}

const STRING_FIELDS: Record<string, (e: Event) => string> = {
  id: (e) => e.id,
  source: (e) => e.source,
  type: (e) => e.type,
  subject: (e) => e.subject,
  correlation_id: (e) => e.correlationId,
  causation_id: (e) => e.causationId,
  ordering_key: (e) => e.orderingKey,
  data_content_type: (e) => e.dataContentType,
  data_schema: (e) => e.dataSchema,
};


function equal(a: Value, b: Value): boolean {
  if (a === undefined || b === undefined) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((v, i) => equal(v, b[i]));
  }
  return a === b;
}

function compare(op: string, a: Value, b: Value): boolean {
  if (typeof a !== typeof b || (typeof a !== "number" && typeof a !== "string")) return false;
  const x = a as number | string;
  const y = b as number | string;
  switch (op) {
    case "<":
      return x < y;
    case "<=":
      return x <= y;
    case ">":
      return x > y;
    default:
      return x >= y;
  }
}

class Parser {
  #i = 0;
  #depth = 0;
  constructor(
    readonly tokens: Token[],
    readonly limits: FilterLimits,
  ) {}

  /** Runs `parse` one nesting level deeper; the parser's recursion is what the depth limit bounds. */
  #nested<T>(pos: number, parse: () => T): T {
    if (this.#depth >= this.limits.maxFilterDepth) {
      const max = this.limits.maxFilterDepth;
      throw new FilterSyntaxError(`nests more than ${max} deep`, pos, { limit: "max-filter-depth", max });
    }
    this.#depth += 1;
    try {
      return parse();
    } finally {
      this.#depth -= 1;
    }
  }

  get #token(): Token {
    return this.tokens[this.#i] as Token;
  }

  #isOp(value: string): boolean {
    const t = this.#token;
    return t.kind === "op" && t.value === value;
  }

  #expectOp(value: string): void {
    if (!this.#isOp(value)) throw new FilterSyntaxError(`expected '${value}'`, this.#token.pos);
    this.#i += 1;
  }

  parse(): Node {
    const node = this.#or();
    if (this.#token.kind !== "end") throw new FilterSyntaxError("unexpected input", this.#token.pos);
    return node;
  }

  #or(): Node {
    return this.#chain("||", () => this.#and(), (l, r) => (e) => l(e) === true || r(e) === true);
  }

  #and(): Node {
    return this.#chain("&&", () => this.#unary(), (l, r) => (e) => l(e) === true && r(e) === true);
  }

  /** A left-associative chain of `operand`s joined by the operator `op`, each pair joined by `join`. */
  #chain(op: string, operand: () => Node, join: (l: Node, r: Node) => Node): Node {
    let left = operand();
    while (this.#isOp(op)) {
      this.#i += 1;
      left = join(left, operand());
    }
    return left;
  }

  #unary(): Node {
    if (this.#isOp("!")) {
      const pos = this.#token.pos;
      this.#i += 1;
      const inner = this.#nested(pos, () => this.#unary());
      return (e) => inner(e) !== true;
    }
    return this.#comparison();
  }

  #comparison(): Node {
    const left = this.#primary();
    const t = this.#token;
    if (t.kind === "op" && ["==", "!=", "<", "<=", ">", ">="].includes(t.value)) {
      this.#i += 1;
      const right = this.#primary();
      switch (t.value) {
        case "==":
          return (e) => equal(left(e), right(e));
        case "!=":
          return (e) => {
            const a = left(e);
            const b = right(e);
            return a !== undefined && b !== undefined && !equal(a, b);
          };
        default:
          return (e) => compare(t.value, left(e), right(e));
      }
    }
    if (t.kind === "ident" && t.value === "in") {
      this.#i += 1;
      const right = this.#primary();
      return (e) => {
        const list = right(e);
        const item = left(e);
        return Array.isArray(list) && item !== undefined && list.some((v) => equal(v, item));
      };
    }
    return left;
  }

  #primary(): Node {
    const t = this.#token;
    let node: Node;
    if (t.kind === "string" || t.kind === "number") {
      this.#i += 1;
      const value = t.value;
      node = () => value;
    } else if (this.#isOp("(")) {
      this.#i += 1;
      const inner = this.#nested(t.pos, () => this.#or());
      this.#expectOp(")");
      node = inner;
    } else if (this.#isOp("[")) {
      this.#i += 1;
      const items: Node[] = [];
      while (!this.#isOp("]")) {
        items.push(this.#nested(t.pos, () => this.#primary()));
        if (!this.#isOp("]")) this.#expectOp(",");
      }
      this.#i += 1;
      node = (e) => items.map((item) => item(e));
    } else if (t.kind === "ident") {
      node = this.#identifier(t);
    } else {
      throw new FilterSyntaxError("expected a value", t.pos);
    }
    return this.#methods(node);
  }

  #identifier(t: Extract<Token, { kind: "ident" }>): Node {
    this.#i += 1;
    switch (t.value) {
      case "true":
        return () => true;
      case "false":
        return () => false;
      case "priority":
        // Unset means 4, as in the envelope.
        return (e) => e.priority ?? 4;
      case "tags":
        return (e) => e.tags;
      case "attributes":
        return this.#attribute(t.pos);
      case "has": {
        this.#expectOp("(");
        const at = this.#token;
        if (at.kind !== "ident" || at.value !== "attributes") throw new FilterSyntaxError("has() takes attributes.name", at.pos);
        this.#i += 1;
        const read = this.#attribute(at.pos);
        this.#expectOp(")");
        return (e) => read(e) !== undefined;
      }
    }
    const field = STRING_FIELDS[t.value];
    if (field === undefined) {
      throw new FilterSyntaxError(
        `unknown field '${t.value}' (known: ${[...Object.keys(STRING_FIELDS), "priority", "tags", "attributes"].join(", ")})`,
        t.pos,
      );
    }
    return field;
  }

  #attribute(pos: number): Node {
    let name: string;
    if (this.#isOp(".")) {
      this.#i += 1;
      const t = this.#token;
      if (t.kind !== "ident") throw new FilterSyntaxError("expected an attribute name", t.pos);
      name = t.value;
      this.#i += 1;
    } else if (this.#isOp("[")) {
      this.#i += 1;
      const t = this.#token;
      if (t.kind !== "string") throw new FilterSyntaxError("expected a quoted attribute name", t.pos);
      name = t.value;
      this.#i += 1;
      this.#expectOp("]");
    } else {
      throw new FilterSyntaxError("use attributes.name or attributes[\"name\"]", pos);
    }
    return (e) => (Object.prototype.hasOwnProperty.call(e.attributes, name) ? e.attributes[name] : undefined);
  }

  #methods(target: Node): Node {
    let node = target;
    while (this.#isOp(".")) {
      this.#i += 1;
      const t = this.#token;
      if (t.kind !== "ident") throw new FilterSyntaxError("expected a method name", t.pos);
      this.#i += 1;
      this.#expectOp("(");
      const arg = this.#token;
      if (arg.kind !== "string") throw new FilterSyntaxError(`${t.value}() takes one string literal`, arg.pos);
      this.#i += 1;
      this.#expectOp(")");
      const text = arg.value;
      const inner = node;
      const onString = (test: (s: string) => boolean): Node => (e) => {
        const v = inner(e);
        return typeof v === "string" && test(v);
      };
      switch (t.value) {
        case "startsWith":
          node = onString((s) => s.startsWith(text));
          break;
        case "endsWith":
          node = onString((s) => s.endsWith(text));
          break;
        case "contains":
          node = onString((s) => s.includes(text));
          break;
        case "matches": {
          let regex: LinearRegex;
          try {
            regex = compileLinearRegex(text, this.limits.maxRegexSize);
          } catch (error) {
            if (!(error instanceof RegexError)) throw error;
            const max = this.limits.maxRegexSize;
            const shown = text.length > 100 ? `${text.slice(0, 100)}...` : text;
            throw new FilterSyntaxError(
              `'${shown}' ${error.message}`,
              arg.pos,
              error.tooLarge ? { limit: "max-regex-size", max } : undefined,
            );
          }
          node = onString((s) => regex.test(s));
          break;
        }
        default:
          throw new FilterSyntaxError(`unknown method '${t.value}' (known: startsWith, endsWith, contains, matches)`, t.pos);
      }
    }
    return node;
  }
}

/**
 * Compiles a filter expression under `limits` (the defaults when absent).
 * Throws {@link FilterSyntaxError} naming the position of the first problem.
 */
export function compileFilter(expression: string, limits: FilterLimits = DEFAULT_INPUT_LIMITS): EventPredicate {
  const max = limits.maxFilterLength;
  if (expression.length > max) {
    throw new FilterSyntaxError(`is ${expression.length} characters long, over the limit of ${max}`, max, {
      limit: "max-filter-length",
      max,
      actual: expression.length,
    });
  }
  if (expression.trim() === "") throw new FilterSyntaxError("empty expression", 0);
  const node = new Parser(tokenize(expression), limits).parse();
  return (event) => node(event) === true;
}

/** Why `expression` does not compile under `limits`, or undefined when it does. */
export function filterError(expression: string, limits: FilterLimits = DEFAULT_INPUT_LIMITS): FilterSyntaxError | undefined {
  return thrownError(FilterSyntaxError, () => compileFilter(expression, limits));
}
