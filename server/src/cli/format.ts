/**
 * How the CLI prints events: one line per event for people, or one JSON
 * object per line (`--json`) for programs.
 */
import type { Event } from "@protobus/sdk/proto";

/** The event as plain JSON (canonical field names, payload decoded when it is JSON or text). */
export function eventToJson(event: Event): Record<string, unknown> {
  const out: Record<string, unknown> = {
    sequence: event.sequence.toString(),
    id: event.id,
    type: event.type,
    source: event.source,
    specVersion: event.specVersion,
  };
  if (event.time !== undefined) out.time = event.time.toISOString();
  if (event.publishTime !== undefined) out.publishTime = event.publishTime.toISOString();
  if (event.subject !== "") out.subject = event.subject;
  if (event.correlationId !== "") out.correlationId = event.correlationId;
  if (event.causationId !== "") out.causationId = event.causationId;
  if (event.priority !== undefined) out.priority = event.priority;
  if (event.tags.length > 0) out.tags = event.tags;
  if (event.expireTime !== undefined) out.expireTime = event.expireTime.toISOString();
  if (event.orderingKey !== "") out.orderingKey = event.orderingKey;
  if (event.traceparent !== "") out.traceparent = event.traceparent;
  if (Object.keys(event.attributes).length > 0) out.attributes = event.attributes;
  if (event.schemaVersion !== 0) out.schemaVersion = event.schemaVersion;
  if (event.dataContentType !== "") out.dataContentType = event.dataContentType;
  if (event.data.length > 0) out.data = payload(event);
  return out;
}

function payload(event: Event): unknown {
  const text = Buffer.from(event.data).toString("utf8");
  if (event.dataContentType === "application/json" || event.dataContentType.endsWith("+json")) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }
  if (event.dataContentType.startsWith("text/")) return text;
  return { base64: Buffer.from(event.data).toString("base64") };
}

/** One line for people: sequence, time, type, source, ids and the payload. */
export function eventToLine(event: Event): string {
  const parts = [
    `#${event.sequence}`,
    event.publishTime?.toISOString() ?? "-",
    event.type,
    `source=${event.source}`,
    `id=${event.id}`,
  ];
  if (event.correlationId !== "") parts.push(`correlation=${event.correlationId}`);
  if (event.subject !== "") parts.push(`subject=${event.subject}`);
  if (event.tags.length > 0) parts.push(`tags=${event.tags.join(",")}`);
  if (event.data.length > 0) parts.push(JSON.stringify(payload(event)));
  return parts.join(" ");
}
