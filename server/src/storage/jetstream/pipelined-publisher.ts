/**
 * Publishes to a stream with many acknowledgements outstanding and little
 * work per message: each message is a plain NATS publish whose reply
 * subject is `<inbox>.<n>` under one subscription, and a sweep fails the
 * ones unanswered past the timeout. The client's own `publish` builds a
 * request (with two error objects for stack traces) per message, which
 * dominated the cost of a publish through protobus.
 */
import { JetStreamApiError, type ApiError } from "@nats-io/jetstream";
import { createInbox, headers as newHeaders, TimeoutError, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from "@nats-io/transport-node";

/** The stream's answer to one publish. */
export interface PublishAck {
  /** The stream sequence it is stored under (the original one for a duplicate). */
  readonly seq: number;
  /** True when the stream had the message id within its duplicate window. */
  readonly duplicate: boolean;
}

interface Pending {
  readonly resolve: (ack: PublishAck) => void;
  readonly reject: (error: unknown) => void;
  readonly deadline: number;
}

/** An error shaped like the client's, for a publish no stream answered. */
class NoStreamResponseError extends Error {
  constructor() {
    super("no stream answered the publish (no responders)");
    // errors.ts maps this name to UNAVAILABLE, as the client's own error.
    this.name = "JetStreamNotEnabled";
  }
}

/** Pipelined JetStream publishes over one connection. */
export class PipelinedPublisher {
  readonly #nc: NatsConnection;
  readonly #timeoutMs: number;
  readonly #inbox: string;
  readonly #pending = new Map<number, Pending>();
  readonly #subscription: Subscription;
  #next = 0;
  #sweep: NodeJS.Timeout | undefined;

  constructor(nc: NatsConnection, timeoutMs: number) {
    this.#nc = nc;
    this.#timeoutMs = timeoutMs;
    this.#inbox = createInbox();
    this.#subscription = nc.subscribe(`${this.#inbox}.*`, {
      callback: (error, message) => {
        if (error === null) this.#answer(message);
      },
    });
  }

  /** Publishes one message; resolves with the stream's acknowledgement. */
  publish(subject: string, data: Uint8Array, options: { readonly headers?: MsgHdrs; readonly msgId?: string }): Promise<PublishAck> {
    const id = ++this.#next;
    let h = options.headers;
    if (options.msgId !== undefined) {
      h ??= newHeaders();
      h.set("Nats-Msg-Id", options.msgId);
    }
    const promise = new Promise<PublishAck>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, deadline: Date.now() + this.#timeoutMs });
    });
    try {
      this.#nc.publish(subject, data, { reply: `${this.#inbox}.${id}`, ...(h !== undefined ? { headers: h } : {}) });
    } catch (error) {
      this.#settle(id)?.reject(error);
    }
    this.#startSweep();
    return promise;
  }

  /** Fails everything outstanding and stops. */
  close(): void {
    this.#subscription.unsubscribe();
    if (this.#sweep !== undefined) clearInterval(this.#sweep);
    this.#sweep = undefined;
    for (const id of [...this.#pending.keys()]) this.#settle(id)?.reject(new TimeoutError());
  }

  #answer(message: Msg): void {
    const id = Number(message.subject.slice(this.#inbox.length + 1));
    const pending = this.#settle(id);
    if (pending === undefined) return;
    if (message.headers?.hasError === true && message.headers.code === 503) {
      pending.reject(new NoStreamResponseError());
      return;
    }
    try {
      const body = message.json<{ seq?: number; duplicate?: boolean; error?: ApiError }>();
      if (body.error !== undefined) pending.reject(new JetStreamApiError(body.error));
      else pending.resolve({ seq: body.seq ?? 0, duplicate: body.duplicate === true });
    } catch (error) {
      pending.reject(error);
    }
  }

  #settle(id: number): Pending | undefined {
    const pending = this.#pending.get(id);
    if (pending !== undefined) this.#pending.delete(id);
    return pending;
  }

  /** One timer for every outstanding publish, running only while some are. */
  #startSweep(): void {
    if (this.#sweep !== undefined) return;
    this.#sweep = setInterval(
      () => {
        const now = Date.now();
        // Map order is publish order, so deadlines are increasing.
        for (const [id, pending] of this.#pending) {
          if (pending.deadline > now) break;
          this.#pending.delete(id);
          pending.reject(new TimeoutError());
        }
        if (this.#pending.size === 0 && this.#sweep !== undefined) {
          clearInterval(this.#sweep);
          this.#sweep = undefined;
        }
      },
      Math.max(50, Math.min(1000, Math.floor(this.#timeoutMs / 10))),
    );
    this.#sweep.unref();
  }
}
