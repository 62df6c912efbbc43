/**
 * One browser's live stream once it is accepted: the broadcast subscription
 * it pulls from (manual credit, reopened at the newest event when it falls
 * behind), the events pending for the next flush, and the Server-Sent Events
 * written to the browser. See live-stream.ts for the protocol and limits.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { status as GrpcStatus, type ClientDuplexStream, type StatusObject } from "@grpc/grpc-js";
import { Event, Opened, type Delivery, type SubscribeRequest, type SubscribeResponse } from "@protobus/sdk/proto";
import { encodeSubscribeRequest, subscribeResponseDecoder } from "@protobus/sdk/internal";
import type { ContractRoute } from "./contract-routes.js";
import { connectErrorBody } from "./connect-error.js";
import { forwardedMetadata } from "./grpc-forwarder.js";
import { header } from "./http-io.js";
import type { LiveStreamContext, LiveStreamStats } from "./live-stream.js";

/** The `open` of a SubscribeRequest. */
export type SubscriptionOpen = Extract<NonNullable<SubscribeRequest["request"]>, { $case: "open" }>["open"];

/** A live stream from its first response byte to its end. */
export class LiveStreamSession {
  readonly #request: IncomingMessage;
  readonly #response: ServerResponse;
  readonly #route: ContractRoute;
  readonly #context: LiveStreamContext;
  readonly #open: SubscriptionOpen;
  readonly #metadata: ReturnType<typeof forwardedMetadata>;
  readonly #stats: LiveStreamStats = { delivered: 0, dropped: 0 };
  #pending: string[] = [];
  #reportedDropped = 0;
  #reportedDelivered = 0;
  #ended = false;
  #lastWrite = Date.now();
  // The subscription in use, the credit it still has, and where it is.
  #call: ClientDuplexStream<Buffer, Buffer> | undefined;
  #credit = 0;
  #lastSequence = 0n;
  #behind = false;
  /** Since when the browser's socket has held `maxUnsentBytes` or more; undefined while it takes what it is sent. */
  #blockedSince: number | undefined;
  #sentOpened = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(request: IncomingMessage, response: ServerResponse, route: ContractRoute, context: LiveStreamContext, open: SubscriptionOpen) {
    this.#request = request;
    this.#response = response;
    this.#route = route;
    this.#context = context;
    this.#open = open;
    this.#metadata = forwardedMetadata(header(request, "authorization"));
  }

  /** Sends the response headers and opens the subscription. */
  start(): void {
    this.#timer = setInterval(() => this.#flush(), this.#context.limits.flushIntervalMs);
    this.#response.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      "x-accel-buffering": "no",
    });
    this.#response.flushHeaders();
    this.#context.onOpen?.(this.#stats);
    this.#request.socket.setNoDelay(true);
    this.#response.on("close", () => this.#end());
    this.#subscribe();
  }

  #write(event: string, data: string): void {
    this.#lastWrite = Date.now();
    this.#response.write(`event: ${event}\ndata: ${data}\n\n`);
  }

  #send(message: SubscribeRequest): void {
    this.#call?.write(encodeSubscribeRequest(message));
  }

  #grant(): void {
    // A browser that has not taken what it was sent gets nothing more: the
    // subscription waits at its place in the log, costing the bus nothing.
    const limits = this.#context.limits;
    if (this.#call === undefined || this.#response.writableLength >= limits.maxUnsentBytes) return;
    const more = limits.maxPendingEvents - this.#credit - this.#pending.length;
    if (more <= 0) return;
    this.#credit += more;
    this.#send({ request: { $case: "credit", credit: { count: more } } });
  }

  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    clearInterval(this.#timer);
    this.#call?.cancel();
    this.#context.onClose?.(this.#stats);
    this.#response.end();
  }

  #take(delivery: Delivery, now: number): void {
    const limits = this.#context.limits;
    this.#stats.delivered += 1;
    this.#credit = Math.max(0, this.#credit - 1);
    const event = delivery.event;
    if (event === undefined) return;
    this.#lastSequence = event.sequence;
    if (event.publishTime !== undefined && now - event.publishTime.getTime() > limits.maxLagMs) this.#behind = true;
    if (this.#behind || this.#pending.length >= limits.maxPendingEvents || this.#response.writableLength >= limits.maxUnsentBytes) {
      this.#stats.dropped += 1;
      return;
    }
    this.#pending.push(JSON.stringify(Event.toJSON(event)));
  }

  /** Opens the subscription at the newest event; what it skips over is counted as dropped. */
  #subscribe(): void {
    const skippedFrom = this.#lastSequence;
    const current = this.#context.forwarder.stream(this.#route.grpcPath, this.#metadata);
    this.#call = current;
    this.#credit = 0;
    this.#behind = false;
    // The SDK's decoder of subscription streams, with string caches of this stream's own.
    const decode = subscribeResponseDecoder();
    current.on("data", (message: Buffer) => {
      if (current === this.#call) this.#receive(decode(message).response, skippedFrom);
    });
    // The status comes after the last message, whatever order the stream's
    // own end and error events take.
    current.on("error", () => undefined);
    current.on("status", (status: StatusObject) => {
      if (this.#ended || current !== this.#call) return;
      this.#flush();
      const code = status.code === GrpcStatus.OK ? GrpcStatus.UNAVAILABLE : status.code;
      const message = status.code === GrpcStatus.OK ? "the server ended the subscription" : status.details;
      this.#write("error", JSON.stringify(connectErrorBody(this.#context.registry, code, message, status.metadata)));
      this.#end();
    });
    const open = {
      ...this.#open,
      start: { position: { $case: "latest" as const, latest: {} } },
      maxInFlight: this.#context.limits.maxPendingEvents,
      manualCredit: true,
      batchDeliveries: true,
    };
    current.write(encodeSubscribeRequest({ request: { $case: "open", open } }));
  }

  /** One message of the current subscription; deliveries are acked as they come. */
  #receive(decoded: SubscribeResponse["response"], skippedFrom: bigint): void {
    const ids: string[] = [];
    const now = Date.now();
    switch (decoded?.$case) {
      case "opened":
        // Events published between the old subscription's last delivery
        // and the new one's start were not shown.
        if (skippedFrom > 0n && decoded.opened.headSequence > skippedFrom) this.#stats.dropped += Number(decoded.opened.headSequence - skippedFrom);
        if (!this.#sentOpened) this.#write("opened", JSON.stringify(Opened.toJSON(decoded.opened)));
        this.#sentOpened = true;
        this.#grant();
        return;
      case "delivery":
        ids.push(decoded.delivery.deliveryId);
        this.#take(decoded.delivery, now);
        break;
      case "batch":
        for (const delivery of decoded.batch.deliveries) {
          ids.push(delivery.deliveryId);
          this.#take(delivery, now);
        }
        break;
      default:
        return;
    }
    this.#send({ request: { $case: "ack", ack: { deliveryIds: ids, confirm: false } } });
  }

  #flush(): void {
    if (this.#ended) return;
    const limits = this.#context.limits;
    const stats = this.#stats;
    if (this.#pending.length > 0) {
      this.#write("events", `[${this.#pending.join(",")}]`);
      this.#pending = [];
    }
    if (stats.dropped !== this.#reportedDropped || stats.delivered !== this.#reportedDelivered) {
      this.#reportedDropped = stats.dropped;
      this.#reportedDelivered = stats.delivered;
      this.#write("status", JSON.stringify({ delivered: stats.delivered, dropped: stats.dropped }));
    } else if (Date.now() - this.#lastWrite >= limits.keepAliveMs) {
      this.#lastWrite = Date.now();
      this.#response.write(": keep-alive\n\n");
    }
    if (this.#blocked(Date.now())) return;
    if (this.#call === undefined || this.#behind) {
      // Too far behind to be live, or stopped while the browser was not
      // reading: start again at the newest event.
      this.#stopSubscription();
      this.#subscribe();
      return;
    }
    this.#grant();
  }

  /**
   * True while the browser's socket is full. Once it has been full for
   * `maxLagMs`, anything the subscription could deliver when the browser
   * reads again would be too old to show: it is stopped now instead of
   * being read, decoded and dropped then, and opened again at the newest
   * event once the browser has taken what it was sent.
   */
  #blocked(now: number): boolean {
    const limits = this.#context.limits;
    if (this.#response.writableLength < limits.maxUnsentBytes) {
      this.#blockedSince = undefined;
      return false;
    }
    this.#blockedSince ??= now;
    if (now - this.#blockedSince >= limits.maxLagMs) this.#stopSubscription();
    return true;
  }

  /**
   * Ends the subscription in use, if any, as a subscriber that is done
   * (half-close: the server ends it with OK); what it still sends is
   * ignored. Its last sequence stays, so that the next subscription counts
   * what was skipped.
   */
  #stopSubscription(): void {
    const old = this.#call;
    this.#call = undefined;
    this.#credit = 0;
    old?.end();
  }
}
