import { JetStreamApiError } from "@nats-io/jetstream";
import { Kvm, type KV, type KvOptions } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";

// "wrong last sequence": a compare-and-set lost against another writer.
const WRONG_LAST_SEQUENCE = 10071;
const WRONG_LAST_SEQUENCE_UNKNOWN = 10164;

/** True when a KV create/update failed because the key changed meanwhile. */
export function isRevisionConflict(error: unknown): boolean {
  if (error instanceof JetStreamApiError) return error.code === WRONG_LAST_SEQUENCE || error.code === WRONG_LAST_SEQUENCE_UNKNOWN;
  // The KV client reports a failed `create` on an existing key in its own words.
  return error instanceof Error && /wrong last sequence|key exists/i.test(error.message);
}

/** Opens a KV bucket, creating it when missing. */
export async function openBucket(nc: NatsConnection, name: string, options: Partial<KvOptions>): Promise<KV> {
  return new Kvm(nc).create(name, options);
}

/**
 * A KV key for any string: the store's subjects may hold `*` and `>`, which
 * keys may not. base64url stays within the key alphabet.
 */
export function encodeKey(prefix: string, text: string): string {
  return `${prefix}.${Buffer.from(text, "utf8").toString("base64url") || "_"}`;
}

/** The text of a key made by {@link encodeKey}. */
export function decodeKey(prefix: string, key: string): string | undefined {
  if (!key.startsWith(`${prefix}.`)) return undefined;
  const body = key.slice(prefix.length + 1);
  return body === "_" ? "" : Buffer.from(body, "base64url").toString("utf8");
}
