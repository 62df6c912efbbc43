/**
 * Calls through the generated grpc-js clients with a bearer token per call
 * (what a client without our SDK does), answering with the status instead
 * of throwing, and a Subscribe stream that collects what it receives.
 */
import type { Client, ServiceError } from "@grpc/grpc-js";
import { ProtobusError } from "@protobus/sdk";
import { Event, OpenSubscription, type Delivery, type SubscribeResponse } from "@protobus/sdk/proto";
import { bearerMetadata } from "./auth.js";

/** A generated client, indexed by method. */
export type RawClient = Client & Record<string, (...args: unknown[]) => unknown>;

/** The outcome of one unary call. */
export interface Outcome<T> {
  readonly code: number;
  readonly details: string;
  readonly response?: T;
  readonly error?: ProtobusError;
}

/** Calls a unary method with `token`; resolves to its outcome. */
export function rawUnary<T = unknown>(client: RawClient, method: string, request: unknown, token: string | undefined): Promise<Outcome<T>> {
  return new Promise((resolve) => {
    client[method]?.(request, bearerMetadata(token), { deadline: new Date(Date.now() + 10_000) }, (error: ServiceError | null, response: T) => {
      if (error === null) resolve({ code: 0, details: "", response });
      else resolve({ code: error.code, details: error.details, error: ProtobusError.from(error) });
    });
  });
}

/** An event for raw publishes. */
export function rawEvent(type: string, source: string, fields: Partial<Event> = {}): Event {
  return Event.fromPartial({ type, source, dataContentType: "application/json", data: Buffer.from("{}"), priority: 5, ...fields });
}

/** A Subscribe stream opened with `token`. */
export interface RawSubscription {
  /** Resolves once the server answered `opened`, or rejects with the status it ended with. */
  readonly opened: Promise<void>;
  /** Events delivered so far. */
  readonly events: Event[];
  /** Resolves with the status the stream ended with. */
  readonly ended: Promise<{ code: number; details: string }>;
  cancel(): void;
}

/**
 * Resolves when a raw subscription's `opened` response arrives; rejects
 * with the stream's error as a ProtobusError (never left unhandled).
 */
export function openedOf(call: NodeJS.EventEmitter): Promise<void> {
  const opened = new Promise<void>((resolve, reject) => {
    call.on("data", (response: SubscribeResponse) => {
      if (response.response?.$case === "opened") resolve();
    });
    call.on("error", (error: ServiceError) => reject(ProtobusError.from(error)));
  });
  opened.catch(() => undefined);
  return opened;
}

/** The deliveries one SubscribeResponse carries: one, a batch, or none. */
export function deliveriesOf(response: SubscribeResponse): Delivery[] {
  const r = response.response;
  return r?.$case === "delivery" ? [r.delivery] : r?.$case === "batch" ? r.batch.deliveries : [];
}

/** Opens a subscription over a raw client. */
export function rawSubscribe(client: RawClient, open: Partial<OpenSubscription>, token: string | undefined): RawSubscription {
  const call = client.subscribe?.(bearerMetadata(token)) as NodeJS.EventEmitter & { write(m: unknown): void; cancel(): void };
  const events: Event[] = [];
  const opened = openedOf(call);
  const ended = new Promise<{ code: number; details: string }>((resolve) => {
    call.on("error", (error: ServiceError) => resolve({ code: error.code, details: error.details }));
    call.on("end", () => resolve({ code: 0, details: "" }));
  });
  call.on("data", (response: SubscribeResponse) => {
    for (const d of deliveriesOf(response)) if (d.event !== undefined) events.push(d.event);
  });
  call.write({ request: { $case: "open", open: OpenSubscription.fromPartial(open) } });
  return { opened, events, ended, cancel: () => call.cancel() };
}
