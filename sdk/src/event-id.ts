/**
 * Fast UUIDv7 event ids (RFC 9562) for events published without one. Ids
 * from one generator increase strictly: within a millisecond the 12-bit
 * `rand_a` field counts up from a random start, and the millisecond moves
 * on when it wraps. The remaining 62 bits come from a pool of
 * cryptographically random bytes refilled 4 KiB at a time, which is what
 * makes this cheaper than asking the crypto API for 16 bytes per id.
 */
import { randomFillSync } from "node:crypto";

// Two ASCII hex digits per byte value, as character codes.
const HEX_CODES = new Uint8Array(512);
for (let i = 0; i < 256; i++) {
  const hex = i.toString(16).padStart(2, "0");
  HEX_CODES[2 * i] = hex.charCodeAt(0);
  HEX_CODES[2 * i + 1] = hex.charCodeAt(1);
}
const POOL_SIZE = 4096;
const RANDOM_BYTES = 9;

const pool = Buffer.allocUnsafe(POOL_SIZE);
let poolOffset = POOL_SIZE;
let lastMs = -1;
let counter = 0;
// The id is written here as ASCII and read back as one flat string: a string
// built by concatenation is a tree of pieces that every hash lookup (the
// dedupe index) and every encode has to flatten first.
const text = Buffer.alloc(36, "-");
// Where each of the 16 bytes of the UUID goes in its text form.
const OFFSETS = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];

function randomBytes(): number {
  if (poolOffset + RANDOM_BYTES > POOL_SIZE) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const offset = poolOffset;
  poolOffset += RANDOM_BYTES;
  return offset;
}

function put(index: number, byte: number): void {
  const at = OFFSETS[index] as number;
  text[at] = HEX_CODES[2 * byte] as number;
  text[at + 1] = HEX_CODES[2 * byte + 1] as number;
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
  put(0, (high >>> 16) & 0xff);
  put(1, (high >>> 8) & 0xff);
  put(2, high & 0xff);
  put(3, (low >>> 16) & 0xff);
  put(4, (low >>> 8) & 0xff);
  put(5, low & 0xff);
  put(6, 0x70 | (counter >>> 8));
  put(7, counter & 0xff);
  put(8, 0x80 | ((pool[r + 1] as number) & 0x3f));
  for (let i = 2; i <= 8; i++) put(7 + i, pool[r + i] as number);
  return text.toString("latin1", 0, 36);
}
