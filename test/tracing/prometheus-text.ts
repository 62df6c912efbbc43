/**
 * A strict reader of the Prometheus text exposition format (version 0.0.4):
 * every line must be a HELP or TYPE comment or a sample, or the parse
 * fails.
 */

/** One sample: metric name, labels and value. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** A parsed exposition. */
export interface Exposition {
  /** Declared types by metric family name. */
  readonly types: ReadonlyMap<string, string>;
  readonly samples: readonly Sample[];
  /** The value of the sample with exactly these labels (order-free), or undefined. */
  value(name: string, labels?: Record<string, string>): number | undefined;
}

const NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
const SAMPLE = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)(?: (-?\\d+))?$`);
const LABEL = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/;

/** Values are Go floats: `NaN`, `+Inf` and `-Inf` in any letter case. */
function parseValue(raw: string, line: string): number {
  const lower = raw.toLowerCase();
  if (lower === "+inf" || lower === "inf") return Infinity;
  if (lower === "-inf") return -Infinity;
  if (lower === "nan") return NaN;
  const value = Number(raw);
  if (Number.isNaN(value)) throw new Error(`bad sample value in: ${line}`);
  return value;
}

function parseLabels(raw: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let rest = raw;
  while (rest !== "") {
    const match = LABEL.exec(rest);
    if (match === null) throw new Error(`bad labels in: ${line}`);
    labels[match[1] as string] = (match[2] as string).replace(/\\n/g, "\n").replace(/\\"/g, '"').replace(/\\\\/g, "\\");
    rest = rest.slice(match[0].length);
  }
  return labels;
}

/** Parses an exposition; throws on the first line that is not valid. */
export function parsePrometheusText(text: string): Exposition {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    if (line.startsWith("#")) {
      const help = new RegExp(`^# HELP (${NAME}) .*$`).exec(line);
      const type = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`).exec(line);
      if (type !== null) types.set(type[1] as string, type[2] as string);
      else if (help === null) throw new Error(`bad comment line: ${line}`);
      continue;
    }
    const match = SAMPLE.exec(line);
    if (match === null) throw new Error(`bad sample line: ${line}`);
    samples.push({ name: match[1] as string, labels: parseLabels(match[2] ?? "", line), value: parseValue(match[3] as string, line) });
  }
  return {
    types,
    samples,
    value(name, labels = {}) {
      const wanted = Object.entries(labels);
      return samples.find(
        (s) => s.name === name && Object.keys(s.labels).length === wanted.length && wanted.every(([k, v]) => s.labels[k] === v),
      )?.value;
    },
  };
}
