/**
 * Fast UUIDv7 event ids (RFC 9562) for events published without one. Ids
 * from one generator increase strictly: within a millisecond the 12-bit
 * `rand_a` field counts up from a random start, and the millisecond moves
 * on when it wraps. The remaining 62 bits come from a pool of
 * cryptographically random bytes refilled 4 KiB at a time, which is what
 * makes this cheaper than asking the crypto API for 16 bytes per id.
 */
import { randomFillSync } from "node:crypto";

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));
const POOL_SIZE = 4096;
const RANDOM_BYTES = 9;

const pool = Buffer.allocUnsafe(POOL_SIZE);
let poolOffset = POOL_SIZE;
let lastMs = -1;
let counter = 0;

function randomBytes(): number {
  if (poolOffset + RANDOM_BYTES > POOL_SIZE) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const offset = poolOffset;
  poolOffset += RANDOM_BYTES;
  return offset;
}

/** A new UUIDv7, greater than every id this process generated before. */
export function newEventId(): string {
  const r = randomBytes();
  const now = Date.now();
  if (now > lastMs) {
    lastMs = now;
    // Start low in the 12-bit range so that a burst rarely overflows it.
    counter = (pool[r] as number) & 0x3ff;
  } else {
    counter += 1;
    if (counter > 0xfff) {
      lastMs += 1;
      counter = 0;
    }
  }
  const ms = lastMs;
  const high = Math.floor(ms / 0x1000000);
  const low = ms % 0x1000000;
  const h = (byte: number) => HEX[byte] as string;
  return (
    h((high >>> 16) & 0xff) +
    h((high >>> 8) & 0xff) +
    h(high & 0xff) +
    h((low >>> 16) & 0xff) +
    "-" +
    h((low >>> 8) & 0xff) +
    h(low & 0xff) +
    "-" +
    h(0x70 | (counter >>> 8)) +
    h(counter & 0xff) +
    "-" +
    h(0x80 | ((pool[r + 1] as number) & 0x3f)) +
    h(pool[r + 2] as number) +
    "-" +
    h(pool[r + 3] as number) +
    h(pool[r + 4] as number) +
    h(pool[r + 5] as number) +
    h(pool[r + 6] as number) +
    h(pool[r + 7] as number) +
    h(pool[r + 8] as number)
  );
}
