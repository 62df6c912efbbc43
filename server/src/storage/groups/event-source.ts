import type { PatternMatcher } from "@protobus/sdk/internal";
import type { AppendListener, ReadRequest, ReadResult } from "../backend.js";
import type { StoredEvent } from "../stored-event.js";

/**
 * The event log as the group engine reads it; a backend that runs the engine
 * provides one over its own storage.
 */
export interface EventSource {
  /** Reads the events after a sequence (see `StorageBackend.read`). */
  read(request: ReadRequest): Promise<ReadResult>;
  /** The events with these sequences, in sequence order; missing ones are left out. */
  readSequences(sequences: readonly number[]): Promise<StoredEvent[]>;
  /** The newest sequence. */
  headSequence(): Promise<bigint>;
  /** How many events after a sequence match the patterns. */
  countAfter(afterSequence: number, matcher: PatternMatcher): Promise<number>;
  /** Tells the listener about appends. */
  onAppend(listener: AppendListener): () => void;
}
