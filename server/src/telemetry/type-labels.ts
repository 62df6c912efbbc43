/**
 * Bounds how many distinct event types the server keeps per-type counters
 * for (Prometheus `type` labels, GetDeliveryStats rows). Event types come
 * from callers, rejected ones included: without a cap each new type string
 * adds a time series to every per-type metric for as long as the server
 * runs. The first `max` distinct types keep their own label; later ones,
 * and any type longer than {@link MAX_TYPE_LABEL_LENGTH}, are counted under
 * {@link OTHER_TYPE}.
 */

/** The label every type past the cap is counted under. */
export const OTHER_TYPE = "other";

/** Types longer than this never get a label of their own. */
export const MAX_TYPE_LABEL_LENGTH = 256;

/** Default of `--metrics-max-types`. */
export const DEFAULT_MAX_TYPE_LABELS = 1000;

/** The label of each event type, capped. */
export class TypeLabels {
  readonly #known = new Set<string>();
  readonly #max: number;

  /** `max`: distinct types that keep their own label. */
  constructor(max: number = DEFAULT_MAX_TYPE_LABELS) {
    this.#max = max;
  }

  /** The label to count `type` under: itself while the cap allows, else `other`. */
  label(type: string): string {
    if (this.#known.has(type)) return type;
    if (this.#known.size >= this.#max || type.length > MAX_TYPE_LABEL_LENGTH || type === OTHER_TYPE) return OTHER_TYPE;
    this.#known.add(type);
    return type;
  }

  /** Distinct types with a label of their own. */
  get size(): number {
    return this.#known.size;
  }
}
