/**
 * Event maps (what protoc-gen-protobus generates per proto package) and the
 * types a typed subscription hands to its handler.
 */
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import type { ReceivedEvent } from "../subscription.js";
import type { EventDefinition } from "./event-definition.js";
import type { EventPayload } from "./payload.js";
import type { TypesMatching } from "./pattern-types.js";

/** Event types mapped to their definitions, e.g. the generated `examplesAgentsV1Events`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type EventMap = { readonly [type: string]: EventDefinition<string, any> };

/** A map with no events: the client of untyped, dynamic use. */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export type NoEvents = {};

/** The payload a publish of definition `D` takes. */
export type PayloadOf<D> = D extends EventDefinition<string, infer Desc extends DescMessage> ? EventPayload<Desc> : never;

/** The decoded message of definition `D`. */
export type MessageOf<D> = D extends EventDefinition<string, infer Desc extends DescMessage> ? MessageShape<Desc> : never;

/**
 * A delivered event of one generated type: the envelope (with `data` still
 * the raw bytes), `type` as a literal and `payload` decoded into the message.
 * A union of these is narrowed by `switch (event.type)`.
 */
export type TypedEvent<Type extends string, Payload> = Omit<ReceivedEvent, "type"> & {
  /** The event type. */
  readonly type: Type;
  /** The payload, decoded with the generated message schema. */
  readonly payload: Payload;
};

/** The union of the typed events of `M` whose type one of the patterns `P` matches. */
export type EventsMatching<M extends EventMap, P extends string> = {
  [T in TypesMatching<keyof M & string, P>]: TypedEvent<T, MessageOf<M[T]>>;
}[TypesMatching<keyof M & string, P>];

/** Every typed event of `M`. */
export type AnyEventOf<M extends EventMap> = EventsMatching<M, ">">;

/**
 * Each pattern of `P` that some event type of `M` matches; otherwise a type no string
 * literal satisfies, which names the problem in the compiler's message.
 */
export type KnownPattern<M extends EventMap, P extends string> = P extends string
  ? [TypesMatching<keyof M & string, P>] extends [never]
    ? P & { readonly "no generated event type matches this pattern": P }
    : P
  : never;

/** Handles the typed events of a subscription; resolve to ack, throw to nack. */
export type TypedEventHandler<E> = (event: E) => void | Promise<void>;
