/**
 * The server's log: one line per record on stderr, either human-readable or
 * JSON (`--log-format json`) for log shippers.
 */

/** Severity of a record. */
export const LogLevel = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 } as const;
/** A severity name. */
export type LogLevel = keyof typeof LogLevel;

/** Where the server logs. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** Records below this level are dropped. */
  readonly level: LogLevel;
  /** `text` for people, `json` for machines. */
  readonly format: "text" | "json";
  /** Where lines go; stderr by default. */
  readonly write?: (line: string) => void;
}

function render(value: unknown): string {
  if (value instanceof Error) return JSON.stringify(value.message);
  if (typeof value === "bigint") return value.toString();
  return typeof value === "string" && !/\s/.test(value) ? value : JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
}

/** Creates a logger. */
export function createLogger(options: LoggerOptions): Logger {
  const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const threshold = LogLevel[options.level];
  const log = (level: Exclude<LogLevel, "silent">) => (message: string, fields: Record<string, unknown> = {}) => {
    if (LogLevel[level] < threshold) return;
    if (options.format === "json") {
      write(
        JSON.stringify({ time: new Date().toISOString(), level, message, ...fields }, (_k, v: unknown) =>
          typeof v === "bigint" ? v.toString() : v instanceof Error ? v.message : v,
        ),
      );
      return;
    }
    const extra = Object.entries(fields)
      .map(([k, v]) => `${k}=${render(v)}`)
      .join(" ");
    write(`${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} ${message}${extra === "" ? "" : ` ${extra}`}`);
  };
  return { debug: log("debug"), info: log("info"), warn: log("warn"), error: log("error") };
}
