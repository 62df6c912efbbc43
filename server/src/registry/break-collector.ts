/**
 * What the Protobuf and JSON Schema compatibility checkers share: the list
 * of incompatibilities found while one schema is compared with another.
 */

/** One incompatibility: the rule it breaks, where, and what changed. */
export interface SchemaBreak {
  readonly rule: string;
  readonly path: string;
  readonly description: string;
}

/**
 * Collects the breaks found while `from` is compared with `to`; each schema
 * carries the label the descriptions name it by.
 */
export class BreakCollector<S extends { readonly label: string }> {
  readonly breaks: SchemaBreak[] = [];
  constructor(
    readonly from: S,
    readonly to: S,
  ) {}
  add(rule: string, path: string, description: string): void {
    this.breaks.push({ rule, path, description });
  }
}
