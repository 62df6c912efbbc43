/**
 * Large requests take turns. grpc-js decodes each request message in a
 * microtask and hands it to the handler in the same drain of the microtask
 * queue, so requests whose last bytes arrive together (twenty publishes of
 * 10,000 events, say) were decoded, validated and stored back to back
 * without the event loop getting a turn: every other caller waited for all
 * of them (650–780 ms measured). A request of {@link LARGE_REQUEST_BYTES}
 * or more is therefore not decoded when it arrives: the request guard
 * wraps its bytes in a {@link DeferredRequest}, and the interceptor chain
 * decodes and passes it on in the {@link requestLane}'s next turn, one
 * large request per turn of the event loop. Connections take turns (the
 * requests of one call, and of one connection, in arrival order), so a
 * client's backlog of received large requests is not decoded in full
 * before another connection's gets its turn. (Arriving is another matter:
 * the server's HTTP/2 window is 64 KiB, so a large request arrives over
 * several polls for I/O, one between two turns.)
 * Calls in between (small requests, acks, health checks) are read and
 * answered between two large requests. Small requests are not delayed at
 * all.
 *
 * The lane also bounds the memory of large requests in progress: a
 * request holds its encoded size from its turn until its call answers it
 * (a response message, or the call's end), and requests past
 * {@link MAX_LARGE_BYTES_IN_PROGRESS} wait as bytes, not decoded: a
 * decoded request takes about ten times its encoded size, and the SQLite
 * store commits at most 4,096 events a turn while the lane decodes a whole
 * request a turn.
 */

import { TurnLane } from "../turn-lane.js";

/** Requests of at least this many encoded bytes are decoded in turns (see the module comment). */
export const LARGE_REQUEST_BYTES = 64 * 1024;

/** A large request as received: decoded when its turn comes. */
export class DeferredRequest {
  readonly #decode: (bytes: Buffer) => unknown;

  constructor(
    /** The encoded request. */
    readonly bytes: Buffer,
    decode: (bytes: Buffer) => unknown,
  ) {
    this.#decode = decode;
  }

  /** The request as the method's deserializer makes it (which never throws: see request-guard.ts). */
  decode(): unknown {
    return this.#decode(this.bytes);
  }
}

/** True for a request left to be decoded in its turn. */
export function isDeferredRequest(message: unknown): message is DeferredRequest {
  return message instanceof DeferredRequest;
}

/**
 * Most encoded bytes of large requests in progress at once (decoded and
 * not yet answered): a decoded request takes several times its encoded
 * size, and it stays in memory until stored. Past this, large requests
 * wait, as bytes, for earlier ones to be answered; one always proceeds.
 */
export const MAX_LARGE_BYTES_IN_PROGRESS = 8 * 2 ** 20;

/** The lane every server of this process shares, as they share its event loop. */
export const requestLane = new TurnLane(MAX_LARGE_BYTES_IN_PROGRESS);
