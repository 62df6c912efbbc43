/**
 * Event types and subscription patterns.
 *
 * Event types are lower-case dotted tokens (`agent.task.completed`). Patterns
 * follow NATS subject semantics so that they map 1:1 onto JetStream subject
 * filters: `*` matches exactly one token, `>` matches one or more trailing
 * tokens and may only stand last.
 */

/** The syntax every event type must have: two or more lower-case tokens. */
export const EVENT_TYPE_REGEX = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/;

const TOKEN_REGEX = /^[a-z][a-z0-9_]*$/;

/** Tells whether `type` is a well-formed event type. */
export function isValidEventType(type: string): boolean {
  return EVENT_TYPE_REGEX.test(type);
}

/**
 * Returns why `pattern` is not a valid subscription pattern, or `undefined`
 * when it is valid.
 */
export function patternError(pattern: string): string | undefined {
  if (pattern.length === 0) return "must not be empty";
  const tokens = pattern.split(".");
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] ?? "";
    if (token === ">") {
      if (i !== tokens.length - 1) return "'>' may only be the last token";
      continue;
    }
    if (token === "*") continue;
    if (token.length === 0) return "must not contain empty tokens";
    if (!TOKEN_REGEX.test(token)) {
      return `token '${token}' must be '*', '>' or match ${TOKEN_REGEX.source}`;
    }
  }
  return undefined;
}

/** A compiled set of patterns: `matches(type)` is true when any pattern matches. */
export interface PatternMatcher {
  /** The patterns this matcher was compiled from. */
  readonly patterns: readonly string[];
  /** True when some pattern matches the event type. */
  matches(type: string): boolean;
}

/** A node of the pattern trie: one per distinct prefix of tokens. */
interface TrieNode {
  /** Literal next tokens. */
  readonly children: Map<string, TrieNode>;
  /** A `*` next. */
  star: TrieNode | undefined;
  /** A pattern ends here with `>`: any one or more further tokens match. */
  rest: boolean;
  /** A pattern ends here. */
  end: boolean;
}

function trieNode(): TrieNode {
  return { children: new Map(), star: undefined, rest: false, end: false };
}

function insert(root: TrieNode, pattern: string): void {
  let node = root;
  for (const token of pattern.split(".")) {
    if (token === ">") {
      node.rest = true;
      return;
    }
    if (token === "*") {
      node.star ??= trieNode();
      node = node.star;
    } else {
      let child = node.children.get(token);
      if (child === undefined) {
        child = trieNode();
        node.children.set(token, child);
      }
      node = child;
    }
  }
  node.end = true;
}

/**
 * Walks the trie along the type's tokens, following the literal and the `*`
 * branch at once. The nodes reached at one depth are distinct prefixes, so a
 * match costs at most the trie's size and usually a few steps per token,
 * however many patterns there are.
 */
function matchTrie(root: TrieNode, type: string): boolean {
  const tokens = type.split(".");
  let current: TrieNode[] = [root];
  for (const token of tokens) {
    const next: TrieNode[] = [];
    for (const node of current) {
      if (node.rest) return true;
      const child = node.children.get(token);
      if (child !== undefined) next.push(child);
      if (node.star !== undefined) next.push(node.star);
    }
    if (next.length === 0) return false;
    current = next;
  }
  return current.some((node) => node.end);
}

/**
 * Compiles patterns into one matcher. Throws a `RangeError` naming the first
 * invalid pattern; call {@link patternError} first to report all of them.
 * Wildcard patterns go into a token trie, so a type is matched against all
 * of them in one walk, not one regular expression per pattern.
 */
export function compilePatterns(patterns: readonly string[]): PatternMatcher {
  for (const pattern of patterns) {
    const error = patternError(pattern);
    if (error !== undefined) throw new RangeError(`invalid pattern '${pattern}': ${error}`);
  }
  const exact = new Set<string>();
  const root = trieNode();
  let wildcards = 0;
  for (const pattern of patterns) {
    if (!pattern.includes("*") && !pattern.includes(">")) exact.add(pattern);
    else {
      insert(root, pattern);
      wildcards += 1;
    }
  }
  const cache = new Map<string, boolean>();
  return {
    patterns: [...patterns],
    matches(type: string): boolean {
      if (exact.has(type)) return true;
      if (wildcards === 0) return false;
      let hit = cache.get(type);
      if (hit === undefined) {
        hit = matchTrie(root, type);
        // Types are a small vocabulary; the cache stays bounded in practice,
        // but cap it so that a flood of distinct types cannot grow it forever.
        if (cache.size < 10_000) cache.set(type, hit);
      }
      return hit;
    },
  };
}

/** Tells whether one pattern matches one event type. */
export function matchesPattern(pattern: string, type: string): boolean {
  return compilePatterns([pattern]).matches(type);
}

/**
 * Tells whether every event type `pattern` can match is also matched by
 * `grant` (both valid patterns, or event types). `agent.task.*` covers
 * `agent.task.created` and `agent.task.*`, but not `agent.>`: a grant on
 * one team's types never stretches to a wider subscription.
 */
export function patternCovers(grant: string, pattern: string): boolean {
  const g = grant.split(".");
  const p = pattern.split(".");
  for (let i = 0; i < g.length; i++) {
    const gi = g[i];
    const pi = p[i];
    // `>` stands last and takes one or more tokens of any kind, `>` included.
    if (gi === ">") return pi !== undefined;
    if (pi === undefined || pi === ">") return false;
    if (gi === "*") continue;
    if (gi !== pi) return false;
  }
  return g.length === p.length;
}
