/**
 * One configuration key of `protobus serve`: its names in each source
 * (flag, environment variable, protobus.yaml) and how its text is parsed.
 * The server's own keys live in config.ts; each storage backend declares its
 * own in its descriptor.
 */

/** One key of a configuration of type `C`. */
export interface ConfigKey<C> {
  readonly key: keyof C & string;
  /** Name in protobus.yaml (and the flag, in kebab-case). */
  readonly yaml: string;
  /** The `PROTOBUS_*` environment variable: see {@link envVariable}. */
  readonly env: string;
  /** Parses the text of one source; `from` names the source in the error. */
  readonly parse: (raw: string, from: string) => C[keyof C];
  /** One line for `--help` and the README's configuration table. */
  readonly description: string;
  /** A switch: the flag may be given without a value (meaning true). */
  readonly boolean?: true;
  /** A file or directory path: resolved against the working directory when not empty. */
  readonly path?: true;
}

/**
 * The keys of a part of a configuration as keys of the whole: every key of
 * `Part` is a key of `Whole` with the same type (TypeScript cannot see that
 * `ConfigKey` is covariant in its configuration type).
 */
export function widenKeys<Whole extends Part, Part>(keys: readonly ConfigKey<Part>[]): readonly ConfigKey<Whole>[] {
  return keys as unknown as readonly ConfigKey<Whole>[];
}

/** A {@link ConfigKey} as a table declares it: its environment variable follows from its yaml name. */
export type ConfigKeySpec<C> = Omit<ConfigKey<C>, "env">;

/** The environment variable of the key named `yaml` in protobus.yaml: `PROTOBUS_` and the name in upper snake case. */
export function envVariable(yaml: string): string {
  return `PROTOBUS_${yaml.toUpperCase().replaceAll("-", "_")}`;
}

/** The keys of a table, each with its environment variable. */
export function defineConfigKeys<C>(specs: readonly ConfigKeySpec<C>[]): readonly ConfigKey<C>[] {
  return specs.map((spec) => ({ ...spec, env: envVariable(spec.yaml) }));
}
