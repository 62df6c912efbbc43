/**
 * The audit trail: every admin action (schema writes and deletes,
 * compatibility changes, group deletes and settings, dead-letter redrives
 * and purges) and every refusal (unauthenticated, permission denied) is
 * logged with who, what and on which resource, and published on the bus as
 * a `protobus.audit.*` event (JSON), so that it can be subscribed to,
 * queried and kept like any other event.
 *
 * Publishing is bounded (a flood of refused calls must not become a flood
 * of events): past the bound, records are still logged and the number not
 * published is logged once per second.
 */
import { toEnvelope } from "@protobus/sdk";
import type { Event, PublishResult } from "@protobus/sdk/proto";
import type { Logger } from "../logger.js";
import { TokenBucket } from "./token-bucket.js";

/** Type of the event published for an admin action. */
export const AUDIT_ADMIN_TYPE = "protobus.audit.admin";
/** Type of the event published for a refused call. */
export const AUDIT_DENIED_TYPE = "protobus.audit.denied";
/** Source of audit events. */
export const AUDIT_SOURCE = "protobus/audit";

/** One audited act. */
export interface AuditRecord {
  /** Who: a principal id, or `anonymous`. */
  readonly principal: string;
  /** How they authenticated (`token`, `jwt`, `certificate`), empty when they did not. */
  readonly via: string;
  /** What: `schema.register`, `group.delete`, `publish`, `authenticate`, ... */
  readonly action: string;
  /** On what: `schema/agent.task.created`, `group/billing`, an event type or pattern. */
  readonly resource: string;
  /** `ok`, `denied`, `unauthenticated`, or the status code name an admin call ended with. */
  readonly outcome: string;
  /** The gRPC method. */
  readonly method: string;
  /** The peer address. */
  readonly peer: string;
  /** Why it was refused (for the audit trail only; callers are told less). */
  readonly reason?: string;
}

/** Options of {@link AuditLog}. */
export interface AuditLogOptions {
  readonly logger: Logger;
  /** Publishes server events (the bus's publish); absent: records are only logged. */
  readonly publish?: (events: readonly Event[]) => Promise<PublishResult[]>;
  /** Most audit events published per second (a burst of twice as many). */
  readonly maxEventsPerSecond?: number;
}

/** Records and publishes audit records. */
export class AuditLog {
  readonly #options: AuditLogOptions;
  readonly #bucket: TokenBucket;
  #dropped = 0;
  #dropTimer: NodeJS.Timeout | undefined;

  constructor(options: AuditLogOptions) {
    this.#options = options;
    const rate = options.maxEventsPerSecond ?? 100;
    this.#bucket = new TokenBucket(rate, rate * 2, performance.now());
  }

  /** Logs `record` and publishes it as a `protobus.audit.*` event. */
  record(record: AuditRecord): void {
    const denied = record.outcome === "denied" || record.outcome === "unauthenticated";
    const fields = { ...record };
    if (denied) this.#options.logger.warn(`audit: ${record.action} refused`, fields);
    else this.#options.logger.info(`audit: ${record.action}`, fields);
    const publish = this.#options.publish;
    if (publish === undefined) return;
    const now = performance.now();
    if (this.#bucket.waitMs(1, now) > 0) {
      this.#countDropped();
      return;
    }
    this.#bucket.take(1, now);
    const event = toEnvelope(
      {
        type: denied ? AUDIT_DENIED_TYPE : AUDIT_ADMIN_TYPE,
        subject: record.principal,
        data: record,
        priority: 2,
        tags: ["audit"],
        attributes: { action: record.action, outcome: record.outcome },
      },
      { source: AUDIT_SOURCE },
    );
    publish([event]).catch((error: unknown) => {
      this.#options.logger.warn("could not publish an audit event", { action: record.action, error: error instanceof Error ? error.message : String(error) });
    });
  }

  #countDropped(): void {
    this.#dropped += 1;
    this.#dropTimer ??= setTimeout(() => {
      this.#options.logger.warn("audit events not published (over the rate); they are in the log", { count: this.#dropped });
      this.#dropped = 0;
      this.#dropTimer = undefined;
    }, 1000).unref();
  }
}
