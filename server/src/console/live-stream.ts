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
 * newest event. The events it skipped (counted by sequence: with a pattern
 * or filter that is an upper bound) and any that did not fit are dropped,
 * counted, and the count is sent with the next flush and shown by the page.
 *
 * Messages: `opened` (the `Opened` message), `events` (a JSON array of
 * `Event`s), `status` (`{delivered, dropped}`), `error` (a Connect error
 * body, after which the stream ends).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { fromJson, toBinary, type JsonValue, type Registry } from "@bufbuild/protobuf";
import { status as GrpcStatus, type ClientDuplexStream, type StatusObject } from "@grpc/grpc-js";
import { Event, Opened, SubscribeRequest, SubscribeResponse, type Delivery } from "@protobus/sdk/proto";
import type { ContractRoute } from "./contract-routes.js";
import { connectErrorBody } from "./connect-error.js";
import { forwardedMetadata, type GrpcForwarder } from "./grpc-forwarder.js";
import { BodyTooLargeError, header, readBody } from "./http-io.js";
import { sendError } from "./json-gateway.js";

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
  const { registry, limits } = context;
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
  const openRequest = open.request.open;
  const metadata = forwardedMetadata(header(request, "authorization"));
  const stats: LiveStreamStats = { delivered: 0, dropped: 0 };
  let pending: string[] = [];
  let reportedDropped = 0;
  let reportedDelivered = 0;
  let ended = false;
  let lastWrite = Date.now();
  // The subscription in use, the credit it still has, and where it is.
  let call: ClientDuplexStream<Buffer, Buffer> | undefined;
  let credit = 0;
  let lastSequence = 0n;
  let behind = false;
  let sentOpened = false;

  const write = (event: string, data: string): void => {
    lastWrite = Date.now();
    response.write(`event: ${event}\ndata: ${data}\n\n`);
  };
  const send = (message: SubscribeRequest): void => {
    call?.write(Buffer.from(SubscribeRequest.encode(message).finish()));
  };
  const grant = (): void => {
    // A browser that has not taken what it was sent gets nothing more: the
    // subscription waits at its place in the log, costing the bus nothing.
    if (call === undefined || response.writableLength >= limits.maxUnsentBytes) return;
    const more = limits.maxPendingEvents - credit - pending.length;
    if (more <= 0) return;
    credit += more;
    send({ request: { $case: "credit", credit: { count: more } } });
  };
  const end = (): void => {
    if (ended) return;
    ended = true;
    clearInterval(timer);
    call?.cancel();
    context.onClose?.(stats);
    response.end();
  };
  const take = (delivery: Delivery, now: number): void => {
    stats.delivered += 1;
    credit = Math.max(0, credit - 1);
    const event = delivery.event;
    if (event === undefined) return;
    lastSequence = event.sequence;
    if (event.publishTime !== undefined && now - event.publishTime.getTime() > limits.maxLagMs) behind = true;
    if (behind || pending.length >= limits.maxPendingEvents || response.writableLength >= limits.maxUnsentBytes) {
      stats.dropped += 1;
      return;
    }
    pending.push(JSON.stringify(Event.toJSON(event)));
  };

  /** Opens the subscription at the newest event; what it skips over is counted as dropped. */
  const subscribe = (): void => {
    const skippedFrom = lastSequence;
    const current = context.forwarder.stream(route.grpcPath, metadata);
    call = current;
    credit = 0;
    behind = false;
    current.on("data", (message: Buffer) => {
      if (current !== call) return;
      const decoded = SubscribeResponse.decode(message).response;
      const ids: string[] = [];
      const now = Date.now();
      switch (decoded?.$case) {
        case "opened":
          // Events published between the old subscription's last delivery
          // and the new one's start were not shown.
          if (skippedFrom > 0n && decoded.opened.headSequence > skippedFrom) stats.dropped += Number(decoded.opened.headSequence - skippedFrom);
          if (!sentOpened) write("opened", JSON.stringify(Opened.toJSON(decoded.opened)));
          sentOpened = true;
          grant();
          return;
        case "delivery":
          ids.push(decoded.delivery.deliveryId);
          take(decoded.delivery, now);
          break;
        case "batch":
          for (const delivery of decoded.batch.deliveries) {
            ids.push(delivery.deliveryId);
            take(delivery, now);
          }
          break;
        default:
          return;
      }
      send({ request: { $case: "ack", ack: { deliveryIds: ids, confirm: false } } });
    });
    // The status comes after the last message, whatever order the stream's
    // own end and error events take.
    current.on("error", () => undefined);
    current.on("status", (status: StatusObject) => {
      if (ended || current !== call) return;
      flush();
      const code = status.code === GrpcStatus.OK ? GrpcStatus.UNAVAILABLE : status.code;
      const message = status.code === GrpcStatus.OK ? "the server ended the subscription" : status.details;
      write("error", JSON.stringify(connectErrorBody(registry, code, message, status.metadata)));
      end();
    });
    current.write(
      Buffer.from(
        SubscribeRequest.encode({
          request: {
            $case: "open",
            open: { ...openRequest, start: { position: { $case: "latest", latest: {} } }, maxInFlight: limits.maxPendingEvents, manualCredit: true, batchDeliveries: true },
          },
        }).finish(),
      ),
    );
  };

  const flush = (): void => {
    if (ended) return;
    if (pending.length > 0) {
      write("events", `[${pending.join(",")}]`);
      pending = [];
    }
    if (stats.dropped !== reportedDropped || stats.delivered !== reportedDelivered) {
      reportedDropped = stats.dropped;
      reportedDelivered = stats.delivered;
      write("status", JSON.stringify({ delivered: stats.delivered, dropped: stats.dropped }));
    } else if (Date.now() - lastWrite >= limits.keepAliveMs) {
      lastWrite = Date.now();
      response.write(": keep-alive\n\n");
    }
    if (behind && response.writableLength < limits.maxUnsentBytes) {
      // Too far behind to be live: start again at the newest event.
      const old = call;
      call = undefined;
      old?.cancel();
      subscribe();
      return;
    }
    grant();
  };
  const timer = setInterval(flush, limits.flushIntervalMs);

  response.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-store",
    "x-accel-buffering": "no",
  });
  response.flushHeaders();
  context.onOpen?.(stats);
  request.socket.setNoDelay(true);
  response.on("close", end);
  subscribe();
}
