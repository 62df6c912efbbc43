/**
 * `Subscribe`: the first message opens a subscription through the bus, the
 * server answers `opened` and starts it; later messages (ack, nack,
 * deadline extension, credit) go to the subscription, whatever its kind.
 * Deliveries are held back by the bytes the stream has not sent yet
 * (`StreamWriter`). However the stream ends (the client closes it, its
 * connection dies, the server shuts down), the subscription is closed and a
 * group member's outstanding deliveries go back to its group.
 */
import type { ServerDuplexStream, handleBidiStreamingCall } from "@grpc/grpc-js";
import { msFromDuration } from "@protobus/sdk/internal";
import type { OpenSubscription, SubscribeRequest, SubscribeResponse } from "@protobus/sdk/proto";
import { writeDeliveries, writeUniqueDeliveries } from "../bus/delivery-writer.js";
import type { EventBus } from "../bus/event-bus.js";
import type { DeliverySink, Subscription } from "../bus/subscription.js";
import { invalidArgument } from "../errors.js";
import type { Logger } from "../logger.js";
import { callContext } from "./call-context.js";
import { setTerminator } from "./call-control.js";
import { failureStatus } from "./status.js";
import type { StreamRegistry } from "./stream-registry.js";
import { StreamWriter } from "./stream-writer.js";

type SubscribeCall = ServerDuplexStream<SubscribeRequest, SubscribeResponse | Uint8Array>;
type Request = NonNullable<SubscribeRequest["request"]>;

function orderError(description: string, field = "request"): ReturnType<typeof invalidArgument> {
  return invalidArgument([{ field, description, reason: "ORDER" }]);
}

/** Passes one request of an open stream to its subscription. */
function dispatch(subscription: Subscription, message: Exclude<Request, { $case: "open" }>): void {
  switch (message.$case) {
    case "ack":
      subscription.ack(message.ack.deliveryIds, message.ack.confirm);
      break;
    case "nack": {
      const delay = message.nack.delay === undefined ? undefined : msFromDuration(message.nack.delay);
      subscription.nack(message.nack.deliveryIds, delay, message.nack.reason);
      break;
    }
    case "modifyDeadline":
      subscription.extend(message.modifyDeadline.deliveryIds, msFromDuration(message.modifyDeadline.extension));
      break;
    case "credit":
      subscription.grant(message.credit.count);
      break;
  }
}

/** One Subscribe stream. */
class SubscribeStream {
  readonly #bus: EventBus;
  readonly #logger: Logger;
  readonly #call: SubscribeCall;
  readonly #writer: StreamWriter<Uint8Array | SubscribeResponse>;
  readonly #unregister: () => void;
  #subscription: Subscription | undefined;
  #opening = false;
  #ended = false;
  // Set by the open request: whether this subscriber takes `batch` responses.
  #batching = false;

  constructor(bus: EventBus, streams: StreamRegistry, logger: Logger, call: SubscribeCall) {
    this.#bus = bus;
    this.#logger = logger;
    this.#call = call;
    this.#writer = new StreamWriter(call);
    this.#unregister = streams.add((error) => this.#finish(error));
    // An interceptor may end the stream later (rights revoked by a policy reload).
    setTerminator(callContext(call), (error) => this.#finish(error));
    call.on("data", (request: SubscribeRequest) => this.#onRequest(request));
    call.on("end", () => this.#finish());
    call.on("cancelled", () => this.#release());
    call.on("error", () => this.#release());
  }

  readonly #write = (message: Uint8Array): boolean => this.#writer.write(message);

  readonly #sink: DeliverySink = {
    write: (message) => this.#writer.write(message),
    writeDeliveries: (encoded) => writeDeliveries(this.#write, encoded, this.#batching),
    writeUniqueDeliveries: (deliveries) => writeUniqueDeliveries(this.#write, deliveries, this.#batching),
    waitForDrain: () => this.#writer.whenWritable(),
    fail: (error) => this.#finish(error),
  };

  #onRequest(request: SubscribeRequest): void {
    if (this.#ended) return;
    const message = request.request;
    if (this.#subscription === undefined) {
      if (message?.$case !== "open" || this.#opening) {
        return this.#finish(orderError(this.#opening ? "wait for 'opened' before acking" : "the first message must be 'open'"));
      }
      this.#opening = true;
      this.#open(message.open).catch((error: unknown) => this.#finish(error));
      return;
    }
    if (message === undefined) return this.#finish(invalidArgument([{ field: "request", description: "names no message", reason: "REQUIRED" }]));
    if (message.$case === "open") return this.#finish(orderError("the subscription is already open", "open"));
    dispatch(this.#subscription, message);
  }

  async #open(open: OpenSubscription): Promise<void> {
    this.#batching = open.batchDeliveries;
    const { subscription, headSequence } = await this.#bus.openSubscription(open, this.#sink);
    if (this.#ended) {
      subscription.close();
      return;
    }
    this.#subscription = subscription;
    this.#call.write({ response: { $case: "opened", opened: { subscriptionId: subscription.id, headSequence } } });
    subscription.start();
  }

  /** The stream is gone (cancelled or failed): release without answering. */
  #release(): void {
    this.#ended = true;
    this.#writer.close();
    this.#subscription?.close();
    this.#unregister();
  }

  /** Ends the stream: OK without `error`, else with its status. */
  #finish(error?: unknown): void {
    if (this.#ended) return;
    this.#release();
    if (error === undefined) this.#call.end();
    else this.#call.emit("error", failureStatus(error, this.#logger, "Subscribe"));
  }
}

/** The `Subscribe` handler over `bus`. */
export function subscribeHandler(bus: EventBus, streams: StreamRegistry, logger: Logger): handleBidiStreamingCall<SubscribeRequest, SubscribeResponse> {
  return (call) => {
    new SubscribeStream(bus, streams, logger, call as SubscribeCall);
  };
}
