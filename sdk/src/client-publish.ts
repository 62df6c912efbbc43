/**
 * The client's `publish`, in every form: one event (through the batching
 * publisher unless it is off), a batch (one all-or-nothing unary call), or
 * a typed event by definition or by type string. Correlation and trace
 * context are filled here, so that every path carries them.
 */
import { EventBusService, type EventBusClient, type PublishResponse, type PublishResult } from "./gen/protobus/v1/bus.pb.js";
import type { Event } from "./gen/protobus/v1/event.pb.js";
import type { BatchingPublisher } from "./batching-publisher.js";
import { encodeEvent, encodePublishRequest } from "./event-encoder.js";
import { toEnvelope, type EventInput } from "./event-input.js";
import { Code, ProtobusError } from "./protobus-error.js";
import type { UnaryCaller } from "./read-and-admin-calls.js";
import { applyCorrelation } from "./tracing/correlation.js";
import { publishWithSpan } from "./tracing/producer.js";
import { isEventDefinition, type EventDefinition, type PublishOptions } from "./typed/event-definition.js";
import type { EventMap } from "./typed/typed-events.js";
import { clientClosedError } from "./unary-call.js";

/** What `publish` needs from its client. */
export interface PublishDependencies {
  /** The client's main connection. */
  readonly raw: EventBusClient;
  /** Runs unary calls with the client's deadline. */
  readonly unaryCall: UnaryCaller;
  /** The batching publisher of single events; undefined with `batching: false`. */
  readonly batcher: BatchingPublisher | undefined;
  /** The typed events the client knows, by type. */
  readonly eventMap: EventMap;
  /** Default `source` of events. */
  readonly source: string;
  /** True once the client is closed. */
  readonly isClosed: () => boolean;
}

/** The untyped signature every overload of `publish` resolves to. */
export type PublishFunction = (
  input: EventInput | readonly EventInput[] | EventDefinition | string,
  payload?: unknown,
  publishOptions?: PublishOptions,
) => Promise<PublishResult | PublishResult[]>;

/** Builds the client's `publish`. */
export function createPublish(deps: PublishDependencies): PublishFunction {
  const { raw, unaryCall, batcher, eventMap, source } = deps;
  const publish: PublishFunction = async (input, payload, publishOptions) => {
    if (deps.isClosed()) throw clientClosedError();
    if (typeof input === "string" || isEventDefinition(input)) {
      const definition = typeof input === "string" ? eventMap[input] : input;
      if (definition === undefined) {
        throw new ProtobusError(Code.INVALID_ARGUMENT, `the client has no event definition for type '${String(input)}'`);
      }
      return publish(definition.event(payload as never, publishOptions));
    }
    const batch = Array.isArray(input) ? (input as readonly EventInput[]) : [input as EventInput];
    const events = applyCorrelation(batch.map((e) => toEnvelope(e, { source })));
    if (batcher !== undefined && !Array.isArray(input)) {
      const event = events[0] as Event;
      const [result] = await publishWithSpan(events, async () => [await batcher.publish(event)]);
      return result as PublishResult;
    }
    const results = (await publishWithSpan(events, async () => {
      const response = await unaryCall<PublishResponse>((md, opts, cb) =>
        raw.makeUnaryRequest(EventBusService.publish.path, serializePublishRequest, EventBusService.publish.responseDeserialize, events, md, opts, (error, response) =>
          cb(error, response as PublishResponse),
        ),
      );
      return response.results;
    })) as PublishResult[];
    if (Array.isArray(input)) return results;
    const first = results[0];
    if (first === undefined) throw new ProtobusError(Code.INTERNAL, "the server returned no publish result");
    return first;
  };
  return publish;
}

/**
 * The `PublishRequest` of a batch, written by the encoder the batching
 * publisher uses: the generated encoder's bytes for every valid envelope,
 * in about a quarter of its time (the generated writer encodes each string
 * into an array of its own, the `traceparent` every traced event carries
 * included). grpc-js calls it as the call's serializer, so an envelope
 * that cannot be encoded fails the call as before.
 */
function serializePublishRequest(events: readonly Event[]): Buffer {
  return encodePublishRequest(events.map(encodeEvent));
}
