/**
 * The expressions a backtracking engine also runs in linear time, for which
 * the engine's own RegExp (about ten times faster than RE2 in JavaScript
 * on a short string) is safe to use.
 *
 * Recognized: an optional `^`, then a sequence of atoms, then an optional
 * `$`. An atom is an ASCII literal, `\d`, `\w`, an escaped ASCII
 * punctuation character or a class of those (`[a-z0-9_-]`, not negated),
 * repeated by an optional greedy `*`, `+`, `?`, `{n}`, `{n,}` or `{n,m}`.
 * No groups, alternation, `.`, lazy repetition or non-ASCII characters:
 * anything else is left to RE2.
 *
 * Why that is linear: an atom matches one character, so the only
 * backtracking is into a variable repetition (`min < max`). Each such atom
 * must be followed by the end of the expression (or `$`) or by an atom
 * that needs at least one character none of whose characters the repeated
 * atom matches. Giving back a character then fails the next atom at once,
 * so every repetition is entered once and gives back each character once:
 * time linear in the input. Trying every start position would multiply
 * that by the input's length, so a variable repetition needs the `^`
 * anchor; without one only fixed counts are allowed (time input length
 * times expression length, as RE2's).
 *
 * Semantics are RE2's: the RegExp is built from the parsed character sets
 * (each written as explicit codes), not from the source, so the two
 * engines cannot read an escape differently. Every set is ASCII, so a
 * non-ASCII character in the input ends a match in both engines alike
 * (however each counts it, code point or UTF-16 unit).
 */

const ASCII = 128;
const INFINITE = -1;

/** One character position: the ASCII codes it matches, repeated min..max times (max INFINITE: unbounded). */
interface Atom {
  readonly set: Uint8Array;
  readonly min: number;
  readonly max: number;
}

function setOf(...ranges: [number, number][]): Uint8Array {
  const set = new Uint8Array(ASCII);
  for (const [lo, hi] of ranges) set.fill(1, lo, hi + 1);
  return set;
}

const code = (c: string) => c.charCodeAt(0);
const DIGITS = setOf([code("0"), code("9")]);
const WORD = setOf([code("0"), code("9")], [code("A"), code("Z")], [code("a"), code("z")], [code("_"), code("_")]);

const isAlnum = (c: number) => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
// Printable ASCII that is no letter or digit: escaped, it stands for itself in RE2.
const isPunctuation = (c: number) => c >= 0x21 && c <= 0x7e && !isAlnum(c);
// Characters that stand for themselves outside a class (RE2's metacharacters and `{}` excluded).
const isPlainLiteral = (c: number) => c >= 0x20 && c <= 0x7e && !"\\.+*?()|[]{}^$".includes(String.fromCharCode(c));
// Characters that stand for themselves inside a class (`-`, `\`, `[`, `]`, `^` handled apart).
const isClassLiteral = (c: number) => c >= 0x20 && c <= 0x7e && !"\\[]^-".includes(String.fromCharCode(c));

const REPEAT = /^\{(0|[1-9]\d{0,3})(?:(,)(0|[1-9]\d{0,3})?)?\}/;

/** Parses the atom starting at `at` (its set and where it ends), or undefined when it is not one of the recognized forms. */
function parseSet(source: string, at: number): { set: Uint8Array; end: number } | undefined {
  const c = source.charCodeAt(at);
  if (c === 0x5c) {
    const next = source.charCodeAt(at + 1);
    if (next === code("d")) return { set: DIGITS, end: at + 2 };
    if (next === code("w")) return { set: WORD, end: at + 2 };
    if (isPunctuation(next)) return { set: setOf([next, next]), end: at + 2 };
    return undefined;
  }
  if (c === 0x5b) return parseClass(source, at + 1);
  if (isPlainLiteral(c)) return { set: setOf([c, c]), end: at + 1 };
  return undefined;
}

/** A class from just after its `[`: literals, alphanumeric ranges, `\d`, `\w`, escaped punctuation; `-` first or last. */
function parseClass(source: string, start: number): { set: Uint8Array; end: number } | undefined {
  const set = new Uint8Array(ASCII);
  let at = start;
  if (source.charCodeAt(at) === 0x5d || source.charCodeAt(at) === 0x5e) return undefined; // `[]...]`, `[^...]`
  for (;;) {
    const c = source.charCodeAt(at);
    if (Number.isNaN(c)) return undefined;
    if (c === 0x5d) return at === start ? undefined : { set, end: at + 1 };
    if (c === 0x2d) {
      if (at !== start && source.charCodeAt(at + 1) !== 0x5d) return undefined;
      set[c] = 1;
      at += 1;
    } else if (c === 0x5c) {
      const escaped = parseSet(source, at);
      if (escaped === undefined) return undefined;
      for (let k = 0; k < ASCII; k++) set[k] = (set[k] as number) | (escaped.set[k] as number);
      at = escaped.end;
    } else if (!isClassLiteral(c)) {
      return undefined;
    } else if (source.charCodeAt(at + 1) === 0x2d && source.charCodeAt(at + 2) !== 0x5d && at + 2 < source.length) {
      const hi = source.charCodeAt(at + 2);
      if (!isAlnum(c) || !isAlnum(hi) || hi < c) return undefined;
      set.fill(1, c, hi + 1);
      at += 3;
    } else {
      set[c] = 1;
      at += 1;
    }
  }
}

function disjoint(a: Uint8Array, b: Uint8Array): boolean {
  for (let k = 0; k < ASCII; k++) if ((a[k] as number) & (b[k] as number)) return false;
  return true;
}

const hex = (c: number) => `\\x${c.toString(16).padStart(2, "0")}`;

/** The set as RegExp source: each code written out, so no character reads as syntax. */
function setSource(set: Uint8Array): string {
  const ranges: string[] = [];
  for (let lo = 0; lo < ASCII; lo++) {
    if (set[lo] === 0) continue;
    let hi = lo;
    while (hi + 1 < ASCII && set[hi + 1] === 1) hi++;
    ranges.push(lo === hi ? hex(lo) : `${hex(lo)}-${hex(hi)}`);
    lo = hi;
  }
  return ranges.length === 1 && !ranges[0]?.includes("-") ? (ranges[0] as string) : `[${ranges.join("")}]`;
}

function repeatSource(atom: Atom): string {
  if (atom.max === INFINITE) return atom.min === 0 ? "*" : atom.min === 1 ? "+" : `{${atom.min},}`;
  if (atom.min === atom.max) return atom.min === 1 ? "" : `{${atom.min}}`;
  return atom.min === 0 && atom.max === 1 ? "?" : `{${atom.min},${atom.max}}`;
}

/**
 * A RegExp matching exactly what RE2 matches for `source` (a valid RE2
 * expression) when a backtracking engine runs it in linear time, else
 * undefined (see the file comment for which expressions qualify).
 */
export function backtrackFreeRegExp(source: string): RegExp | undefined {
  const startAnchor = source.startsWith("^");
  let at = startAnchor ? 1 : 0;
  let endAnchor = false;
  const atoms: Atom[] = [];
  while (at < source.length) {
    if (source.charCodeAt(at) === 0x24) {
      if (at !== source.length - 1) return undefined;
      endAnchor = true;
      break;
    }
    const parsed = parseSet(source, at);
    if (parsed === undefined) return undefined;
    at = parsed.end;
    let min = 1;
    let max = 1;
    const q = source.charAt(at);
    if (q === "*" || q === "+" || q === "?") {
      min = q === "+" ? 1 : 0;
      max = q === "?" ? 1 : INFINITE;
      at += 1;
    } else if (q === "{") {
      const repeat = REPEAT.exec(source.slice(at, at + 12));
      if (repeat === null) return undefined;
      min = Number(repeat[1]);
      max = repeat[2] === undefined ? min : repeat[3] === undefined ? INFINITE : Number(repeat[3]);
      if (max !== INFINITE && max < min) return undefined;
      at += repeat[0].length;
    }
    // Lazy or doubled repetition.
    if (at < source.length && "*+?{".includes(source.charAt(at))) return undefined;
    atoms.push({ set: parsed.set, min, max });
  }
  for (let k = 0; k < atoms.length; k++) {
    const atom = atoms[k] as Atom;
    if (atom.min === atom.max) continue;
    if (!startAnchor) return undefined;
    const next = atoms[k + 1];
    if (next !== undefined && (next.min === 0 || !disjoint(atom.set, next.set))) return undefined;
  }
  const body = atoms.map((atom) => setSource(atom.set) + repeatSource(atom)).join("");
  return new RegExp(`${startAnchor ? "^" : ""}${body}${endAnchor ? "$" : ""}`);
}
