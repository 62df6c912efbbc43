/**
 * The live view's connection: a POST of a `SubscribeRequest` to the console's
 * Subscribe route, read as Server-Sent Events with fetch (so the bearer
 * token goes in a header, never in the URL), until aborted.
 */
import { create, fromJson, toJson, type JsonValue } from "@bufbuild/protobuf";
import { authHeaders, ApiError, errorOf, routeOf } from "./api.js";
import { EventBus, SubscribeRequestSchema } from "./gen/protobus/v1/bus_pb.js";
import { EventSchema, type Event } from "./gen/protobus/v1/event_pb.js";

/** What the live stream reports. */
export interface LiveStreamHandlers {
  readonly onOpened: () => void;
  readonly onEvents: (events: Event[]) => void;
  /** Counters of the server's side: deliveries received and dropped for this browser. */
  readonly onStatus: (status: { delivered: number; dropped: number }) => void;
  readonly onError: (error: ApiError) => void;
}

/** Opens a live stream of the events matching `patterns` and `filter`; abort `signal` to close it. */
export async function openLiveStream(patterns: string[], filter: string, handlers: LiveStreamHandlers, signal: AbortSignal): Promise<void> {
  const request = create(SubscribeRequestSchema, { request: { case: "open", value: { patterns, filter } } });
  let response: Response;
  try {
    response = await fetch(routeOf(EventBus.method.subscribe), {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream", ...authHeaders() },
      body: JSON.stringify(toJson(SubscribeRequestSchema, request)),
      signal,
    });
  } catch (error) {
    if (!signal.aborted) handlers.onError(new ApiError("unavailable", `the server cannot be reached: ${(error as Error).message}`));
    return;
  }
  if (!response.ok || response.body === null) {
    handlers.onError(await errorOf(response));
    return;
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end: number;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const failed = dispatch(buffer.slice(0, end), handlers);
        buffer = buffer.slice(end + 2);
        // The server's error is the stream's last word.
        if (failed) return;
      }
    }
    if (!signal.aborted) handlers.onError(new ApiError("unavailable", "the server ended the live stream"));
  } catch (error) {
    if (!signal.aborted) handlers.onError(new ApiError("unavailable", `the live stream broke: ${(error as Error).message}`));
  }
}

/** Hands one SSE message to the handlers; true when it was the stream's error. */
function dispatch(block: string, handlers: LiveStreamHandlers): boolean {
  let name = "message";
  let data = "";
  for (const line of block.split("\n")) {
    if (line.startsWith("event: ")) name = line.slice(7);
    else if (line.startsWith("data: ")) data += line.slice(6);
  }
  if (data === "") return false;
  const parsed = JSON.parse(data) as JsonValue;
  switch (name) {
    case "opened":
      handlers.onOpened();
      break;
    case "events":
      handlers.onEvents((parsed as JsonValue[]).map((json) => fromJson(EventSchema, json, { ignoreUnknownFields: true })));
      break;
    case "status":
      handlers.onStatus(parsed as { delivered: number; dropped: number });
      break;
    case "error": {
      const body = parsed as { code?: string; message?: string; details?: [] };
      handlers.onError(new ApiError(body.code ?? "unknown", body.message ?? "the live stream failed", body.details ?? []));
      return true;
    }
  }
  return false;
}
