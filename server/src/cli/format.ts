/**
 * How the CLI prints events: one line per event for people, or one JSON
 * object per line (`--json`) for programs. Protobuf payloads are decoded
 * through the registered schema unless `--raw` asks for their base64.
 */
import type { RegistryClient } from "@protobus/sdk";
import type { Event } from "@protobus/sdk/proto";
import { printJson } from "./cli-support.js";
import { putExtensionsJson } from "../envelope-extensions-json.js";
import { PayloadDecoder, type DecodedPayload } from "./payload-decoder.js";

/**
 * The event as plain JSON (canonical field names, payload decoded when it
 * is JSON or text, or given decoded with its Protobuf schema).
 */
export function eventToJson(event: Event, decoded?: DecodedPayload): Record<string, unknown> {
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
  putExtensionsJson(event, out);
  if (Object.keys(event.attributes).length > 0) out.attributes = event.attributes;
  if (event.schemaVersion !== 0) out.schemaVersion = event.schemaVersion;
  if (event.dataContentType !== "") out.dataContentType = event.dataContentType;
  if (event.data.length > 0) out.data = decoded?.json ?? payload(event);
  if (decoded !== undefined) out.dataMessage = decoded.messageName;
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
export function eventToLine(event: Event, decoded?: DecodedPayload): string {
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
  if (event.data.length > 0) parts.push(JSON.stringify(decoded?.json ?? payload(event)));
  return parts.join(" ");
}

/** Options of {@link createEventPrinter}. */
export interface EventPrinterOptions {
  /** One JSON object per event instead of a line for people. */
  readonly json: boolean;
  /** Keep Protobuf payloads as base64 instead of decoding them. */
  readonly raw: boolean;
  /** Opens a registry client (on the first Protobuf payload). */
  readonly registry: () => RegistryClient;
}

/** Prints events as the command's options say; `close()` when done. */
export interface EventPrinter {
  print(event: Event): Promise<string>;
  close(): void;
}

/** An event printer that decodes Protobuf payloads with their registered schema unless `raw`. */
export function createEventPrinter(options: EventPrinterOptions): EventPrinter {
  const decoder = options.raw ? undefined : new PayloadDecoder(options.registry);
  return {
    async print(event) {
      const decoded = await decoder?.decode(event);
      return options.json ? printJson(eventToJson(event, decoded)) : eventToLine(event, decoded);
    },
    close: () => decoder?.close(),
  };
}
