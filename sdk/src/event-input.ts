import type { Event } from "./gen/protobus/v1/event.pb.js";

/**
 * What a publisher writes: the event type, the payload and any envelope
 * fields it cares about. Everything else is filled by the client (source)
 * or the server (id, spec version, priority, sequence, publish time).
 */
export interface EventInput {
  /** Lower-case dotted event type, e.g. `agent.task.created`. */
  type: string;
  /**
   * The payload: bytes are sent as they are; a string or any other value is
   * sent as JSON (`application/json`) unless `dataContentType` says otherwise.
   */
  data?: Uint8Array | string | unknown;
  /** Producer; defaults to the client's `source`. */
  source?: string;
  /** Event id; the server assigns a UUIDv7 when absent. */
  id?: string;
  /** Media type of `data`; inferred when absent. */
  dataContentType?: string;
  /** URI of the payload's schema. */
  dataSchema?: string;
  /** What the event is about (e.g. the agent it is addressed to). */
  subject?: string;
  /** When it happened; defaults to now. */
  time?: Date;
  /** Id of the causal flow. */
  correlationId?: string;
  /** Id of the event that caused this one. */
  causationId?: string;
  /** 0 (highest) .. 9 (lowest); the server uses 4 when absent. */
  priority?: number;
  /** Free labels. */
  tags?: string[];
  /** Not delivered after this instant. */
  expireTime?: Date;
  /** Same-key events are handled one at a time in a consumer group. */
  orderingKey?: string;
  /** W3C trace context. */
  traceparent?: string;
  /** W3C trace state. */
  tracestate?: string;
  /** Free extension attributes. */
  attributes?: Record<string, string>;
}

/** Builds a wire envelope from an input, filling the client's defaults. */
export function toEnvelope(input: EventInput, defaults: { source: string }): Event {
  let data: Uint8Array = new Uint8Array();
  let dataContentType = input.dataContentType ?? "";
  if (input.data instanceof Uint8Array) {
    data = input.data;
    if (dataContentType === "") dataContentType = "application/octet-stream";
  } else if (input.data !== undefined) {
    const text = typeof input.data === "string" && dataContentType !== "" ? input.data : JSON.stringify(input.data);
    data = Buffer.from(text, "utf8");
    if (dataContentType === "") dataContentType = "application/json";
  }
  return {
    id: input.id ?? "",
    source: input.source ?? defaults.source,
    type: input.type,
    specVersion: "",
    time: input.time ?? new Date(),
    subject: input.subject ?? "",
    dataContentType,
    dataSchema: input.dataSchema ?? "",
    data: Buffer.from(data.buffer, data.byteOffset, data.byteLength),
    correlationId: input.correlationId ?? "",
    causationId: input.causationId ?? "",
    priority: input.priority,
    tags: input.tags ?? [],
    expireTime: input.expireTime,
    orderingKey: input.orderingKey ?? "",
    traceparent: input.traceparent ?? "",
    tracestate: input.tracestate ?? "",
    attributes: input.attributes ?? {},
    sequence: 0n,
    publishTime: undefined,
    schemaVersion: 0,
  };
}

/**
 * Reads an event's payload as JSON. Throws a SyntaxError when it is not
 * JSON.
 */
export function eventJson<T = unknown>(event: Pick<Event, "data">): T {
  return JSON.parse(Buffer.from(event.data).toString("utf8")) as T;
}
