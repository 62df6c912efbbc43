/**
 * How events map onto JetStream subjects.
 *
 * Each event is one message on `<prefix>.ev.<id>.<type>`: the id token makes
 * a lookup by id a server-side "last message for subject" request, and the
 * type stays verbatim at the end, so a subscription pattern becomes the
 * subject filter `<prefix>.ev.*.<pattern>` with its `*` and `>` unchanged.
 */
import type { PatternMatcher } from "@protobus/sdk/internal";

// Characters an id may carry verbatim in a subject token. Anything else
// (dots, wildcards, spaces, non-ASCII) is encoded.
const PLAIN_ID = /^[A-Za-z0-9_-]+$/;

/**
 * The subject token of an event id: the id itself when it is made of
 * `[A-Za-z0-9_-]`, otherwise `~` followed by its UTF-8 bytes in base64url.
 * The two forms cannot collide because `~` is never part of a plain id.
 */
export function idToken(id: string): string {
  return PLAIN_ID.test(id) ? id : `~${Buffer.from(id, "utf8").toString("base64url")}`;
}

/** A consumer-group name as one KV key or subject token (names may hold dots). */
export function groupToken(name: string): string {
  return Buffer.from(name, "utf8").toString("base64url");
}

/** The subjects and filters of one protobus stream. */
export class SubjectMap {
  /** Every event subject: the stream's subject filter. */
  readonly all: string;
  readonly #events: string;

  constructor(readonly prefix: string) {
    this.#events = `${prefix}.ev.`;
    this.all = `${this.#events}>`;
  }

  /** The subject an event is published on. */
  eventSubject(id: string, type: string): string {
    return `${this.#events}${idToken(id)}.${type}`;
  }

  /** The filter that matches every event with this id, whatever its type. */
  idFilter(id: string): string {
    return `${this.#events}${idToken(id)}.>`;
  }

  /** The event type of an event subject. */
  typeOf(subject: string): string {
    const afterId = subject.indexOf(".", this.#events.length);
    return subject.slice(afterId + 1);
  }

  /**
   * The one subject filter that selects exactly the events a matcher
   * matches, when there is one (a single pattern); otherwise every event
   * subject, and the caller filters by type itself. nats-server 2.9 accepts
   * one filter per consumer.
   */
  filterFor(matcher: PatternMatcher | undefined): { readonly subject: string; readonly exact: boolean } {
    const patterns = matcher?.patterns ?? [];
    if (patterns.length === 1) return { subject: `${this.#events}*.${patterns[0] as string}`, exact: true };
    return { subject: this.all, exact: matcher === undefined };
  }
}
