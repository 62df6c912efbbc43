/**
 * The tag index: which events carry a tag, for history reads filtered by
 * tags. It holds a 64-bit key per tag, not the tag's text.
 *
 * Tags are the client's text, up to 64 per event of up to 256 characters
 * each by default. Indexed as text, 64 random tags of 256 characters made
 * each event cost ~1.5 ms of the server's thread: every key went into a
 * random page of an index that outgrew the page cache, 15 keys to a 4 KiB
 * page, and every page so touched was written to the WAL again at the
 * commit (37 KB on disk per event). With fixed-size keys, ~200 fit a page:
 * a commit of 250 such events took 139 against 824 ms in the same setup,
 * and the index 9 against 161 MB for 8,000 of them. The tags of ordinary
 * events repeat; their keys, like their text, go in at the end of their
 * tag's run (key, then sequence), as before.
 *
 * The key is the first 8 bytes of the tag's SHA-256. Two tags share a key
 * with a chance of about 1 in 2^64 per pair; finding a second tag that
 * shares the key of a given one takes ~2^64 hashes, so a client cannot add
 * its events to another's tag reads. A read by tag returns events whose
 * tags share its key: those are the events that carry it.
 */
import { hash } from "node:crypto";
import type Database from "better-sqlite3";
import { Event } from "@protobus/sdk/proto";
import { EventField, WireType, fieldTag, scanVarint, scannedVarint } from "../../wire.js";

/** The tag table, created when missing (part of `EVENT_TABLES`). */
export const TAG_TABLE = `
CREATE TABLE IF NOT EXISTS event_tag_keys (tag_key INTEGER NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (tag_key, seq)) WITHOUT ROWID;
`;

/** Inserts one event's tag (a tag twice on one event is one row). */
export const INSERT_TAG = "INSERT OR IGNORE INTO event_tag_keys (tag_key, seq) VALUES (?, ?)";

/** Deletes one event's tag row (retention), with the parameters of {@link INSERT_TAG}. */
export const DELETE_TAG = "DELETE FROM event_tag_keys WHERE tag_key = ? AND seq = ?";

/**
 * A `WHERE` term of the events table: the event carries the tag whose key
 * is bound to the first `?`, and its sequence is at least the second and
 * below the third. The range is the query's own, given again so that
 * SQLite reads only that range of the tag's rows: without it, each page
 * of a read listed every event the tag has ever had.
 */
export const HAS_TAG = "seq IN (SELECT seq FROM event_tag_keys WHERE tag_key = ? AND seq >= ? AND seq < ?)";

/**
 * One transaction's tag rows, inserted (or deleted) in key order: the
 * keys of random tags fall all over the index, and in order each page of
 * it is visited once per transaction instead of once per key.
 */
export class TagRows {
  readonly #keys: bigint[] = [];
  readonly #sequences: bigint[] = [];

  /** Adds the rows of one event (a tag twice on it is one row). */
  add(tags: readonly string[], sequence: bigint): void {
    if (tags.length === 0) return;
    for (const tag of tags.length === 1 ? tags : new Set(tags)) {
      this.#keys.push(tagKey(tag));
      this.#sequences.push(sequence);
    }
  }

  /**
   * Runs `statement` ({@link INSERT_TAG} or {@link DELETE_TAG}) on the rows
   * added so far, in key order, and forgets them.
   */
  flush(statement: Database.Statement): void {
    if (this.#keys.length === 0) return;
    const order = Array.from(this.#keys.keys());
    if (order.length > 1) order.sort((a, b) => compareKeys(this.#keys[a] as bigint, this.#keys[b] as bigint));
    for (const i of order) statement.run(this.#keys[i], this.#sequences[i]);
    this.clear();
  }

  /** Forgets the rows added so far (those of a transaction that failed). */
  clear(): void {
    this.#keys.length = 0;
    this.#sequences.length = 0;
  }
}

function compareKeys(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The index key of a tag: the first 8 bytes of its SHA-256, as a signed 64-bit integer (SQLite's INTEGER). */
export function tagKey(tag: string): bigint {
  return hash("sha256", tag, "buffer").readBigInt64BE(0);
}

const TAGS_TAG = fieldTag(EventField.tags, WireType.LengthDelimited);

/**
 * The tags of a stored envelope, read off the wire without decoding the
 * rest of it (a fifth of the cost of `Event.decode` for the events
 * retention deletes); decoded in full when the bytes do not scan, and none
 * when they do not decode either (their tag rows then point at no event:
 * reads by tag join them to the events table and never return them).
 */
export function envelopeTags(bytes: Uint8Array): readonly string[] {
  const tags: string[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    pos = scanVarint(bytes, pos);
    if (pos < 0) return decodedTags(bytes);
    const tag = scannedVarint();
    const wireType = tag & 7;
    if (wireType === WireType.Varint) {
      pos = scanVarint(bytes, pos);
    } else if (wireType === WireType.LengthDelimited) {
      pos = scanVarint(bytes, pos);
      if (pos < 0 || pos + scannedVarint() > bytes.length) return decodedTags(bytes);
      const end = pos + scannedVarint();
      if (tag === TAGS_TAG) tags.push(Buffer.from(bytes.buffer, bytes.byteOffset + pos, end - pos).toString("utf8"));
      pos = end;
    } else if (wireType === WireType.Bit64) {
      pos += 8;
    } else if (wireType === WireType.Bit32) {
      pos += 4;
    } else {
      return decodedTags(bytes);
    }
    if (pos < 0 || pos > bytes.length) return decodedTags(bytes);
  }
  return tags;
}

function decodedTags(bytes: Uint8Array): readonly string[] {
  try {
    return Event.decode(bytes).tags;
  } catch {
    return [];
  }
}

