/**
 * Caches of what the server derives from stored schema versions (parsed
 * definitions, compiled validators), keyed by `subject@version`. Versions
 * never change once stored, so an entry is never stale; the cache is
 * bounded by bytes instead: the least recently used entries are dropped
 * and derived again when next needed.
 */
import { LRUCache } from "lru-cache";

/**
 * A cache holding at most `maxBytes`, each entry counted by `sizeOf`: the
 * bytes of its definition, since what is derived from a definition grows
 * with it and is what can be counted cheaply. An entry larger than the
 * whole budget is not kept.
 */
export function createVersionCache<V extends object>(maxBytes: number, sizeOf: (value: V) => number): LRUCache<string, V> {
  return new LRUCache<string, V>({
    maxSize: Math.max(1, maxBytes),
    sizeCalculation: (value) => Math.max(1, sizeOf(value)),
  });
}
