/**
 * The live view's stream: `POST /api/protobus.v1.EventBus/Subscribe` with a
 * `SubscribeRequest` in JSON (its `open`) answers with Server-Sent Events fed
 * by a real broadcast subscription on the server's gRPC listener, so the
 * patterns and the filter run where every subscriber's run.
 *
 * A browser never slows the bus, and costs it only what it shows: the
 * subscription is pulled (manual credit) at most `maxPendingEvents` per
 * flush, and only while the browser's socket holds less than
 * `maxUnsentBytes` it has not taken; each delivery is acked as it arrives.
 * A subscription that falls more than `maxLagMs` behind (the browser was
 * slow, or the bus faster than a person can read) is opened again at the
 * newest event. While the browser's socket stays full for longer than
 * `maxLagMs`, whatever the subscription could deliver would be too old to
 * show by the time the browser reads: it is closed meanwhile (the bus does
 * nothing for this browser), and opened at the newest event once the
 * browser has taken what it was sent. The events it skipped (counted by
 * sequence: with a pattern or filter that is an upper bound) and any that
 * did not fit are dropped, counted, and the count is sent with the next
 * flush and shown by the page.
 *
 * Messages: `opened` (the `Opened` message), `events` (a JSON array of
 * `Event`s), `status` (`{delivered, dropped}`), `error` (a Connect error
 * body, after which the stream ends).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { fromJson, toBinary, type JsonValue, type Registry } from "@bufbuild/protobuf";
import { status as GrpcStatus } from "@grpc/grpc-js";
import { SubscribeRequest } from "@protobus/sdk/proto";
import type { ContractRoute } from "./contract-routes.js";
import type { GrpcForwarder } from "./grpc-forwarder.js";
import { BodyTooLargeError, header, readBody } from "./http-io.js";
import { sendError } from "./json-gateway.js";
import { LiveStreamSession } from "./live-stream-session.js";

/** Limits of one browser's live stream. */
export interface LiveStreamLimits {
  /** Most events sent in one flush; more are dropped and counted. */
  readonly maxPendingEvents: number;
  /** When the socket holds this many unsent bytes, new events are dropped. */
  readonly maxUnsentBytes: number;
  /** How often pending events are written, in ms. */
  readonly flushIntervalMs: number;
  /** How often an idle stream gets a keep-alive comment, in ms. */
  readonly keepAliveMs: number;
  /**
   * A delivery published longer ago than this means the subscription fell
   * behind (the browser did not keep up): it is opened again at the newest
   * event, and what it skipped counts as dropped.
   */
  readonly maxLagMs: number;
}

/** The defaults: at most 1,000 events a second to a browser, 1 MiB unsent at most. */
export const DEFAULT_LIVE_STREAM_LIMITS: LiveStreamLimits = {
  maxPendingEvents: 100,
  maxUnsentBytes: 1024 * 1024,
  flushIntervalMs: 100,
  keepAliveMs: 15_000,
  maxLagMs: 2_000,
};

/** What a live stream needs besides the request. */
export interface LiveStreamContext {
  readonly registry: Registry;
  readonly forwarder: GrpcForwarder;
  readonly limits: LiveStreamLimits;
  /** Told about each stream's start and end, for the server's own bookkeeping. */
  readonly onOpen?: (stats: LiveStreamStats) => void;
  readonly onClose?: (stats: LiveStreamStats) => void;
}

/** Counters of one live stream. */
export interface LiveStreamStats {
  /** Deliveries received from the bus. */
  delivered: number;
  /** Of those, dropped because the browser was not keeping up. */
  dropped: number;
}

const MAX_OPEN_BYTES = 64 * 1024;

/** Serves one live stream until the browser or the server ends it. */
export async function handleLiveStream(request: IncomingMessage, response: ServerResponse, route: ContractRoute, context: LiveStreamContext): Promise<void> {
  const { registry } = context;
  if (request.method !== "POST") {
    response.setHeader("allow", "POST");
    sendError(response, registry, GrpcStatus.UNIMPLEMENTED, `${route.name} takes POST with a SubscribeRequest in JSON`);
    return;
  }
  if ((header(request, "content-type") ?? "").split(";")[0]?.trim().toLowerCase() !== "application/json") {
    sendError(response, registry, GrpcStatus.INVALID_ARGUMENT, "the request body must be Content-Type: application/json");
    return;
  }
  let open: SubscribeRequest;
  try {
    const body = await readBody(request, MAX_OPEN_BYTES);
    const json = (body.length === 0 ? {} : JSON.parse(body.toString("utf8"))) as JsonValue;
    open = SubscribeRequest.decode(toBinary(route.input, fromJson(route.input, json, { registry })));
  } catch (error) {
    const code = error instanceof BodyTooLargeError ? GrpcStatus.RESOURCE_EXHAUSTED : GrpcStatus.INVALID_ARGUMENT;
    sendError(response, registry, code, `the body is not a protobus.v1.SubscribeRequest in JSON: ${(error as Error).message}`);
    return;
  }
  if (open.request?.$case !== "open") {
    sendError(response, registry, GrpcStatus.INVALID_ARGUMENT, "the body must be a SubscribeRequest with `open`");
    return;
  }
  if (open.request.open.group !== "") {
    // A viewer that joined a group would take events away from its members.
    sendError(response, registry, GrpcStatus.INVALID_ARGUMENT, "the live view subscribes without a group; `open.group` must be empty");
    return;
  }
  new LiveStreamSession(request, response, route, context, open.request.open).start();
}
