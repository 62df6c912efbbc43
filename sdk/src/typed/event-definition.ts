/**
 * A typed event definition: what protoc-gen-protobus generates for every
 * message annotated with `(protobus.v1.event)`. It binds the event type
 * string to the message, encodes and decodes payloads, builds envelopes with
 * the type's defaults, and carries the descriptor set to register.
 */
import { create, fromBinary, fromJsonString, toBinary, type DescMessage, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import type { Event } from "../gen/protobus/v1/event.pb.js";
import type { EventInput } from "../event-input.js";
import { isValidEventType } from "../pattern.js";
import { descriptorSetFor } from "./descriptor-set.js";
import type { EventPayload } from "./payload.js";

/** The media type of binary Protobuf payloads. */
export const PROTOBUF_CONTENT_TYPE = "application/protobuf";

/** Envelope defaults of an event type, from its `(protobus.v1.event)` option. */
export interface EventDefaults {
  /** Priority 0 (highest) .. 9 used when a publish names none. */
  readonly priority?: number;
  /** Time to live in ms: a publish without `expireTime` expires this long after it is sent. */
  readonly ttlMs?: number;
}

/**
 * Envelope fields of a typed publish: everything of {@link EventInput} but
 * the type and the payload, plus a time to live.
 */
export interface PublishOptions extends Omit<EventInput, "type" | "data" | "dataContentType"> {
  /** Expires this many ms after now; `expireTime` wins when both are set. Overrides the type's default TTL. */
  readonly ttlMs?: number;
}

/** What {@link defineEvent} takes; the generated code fills it. */
export interface EventDefinitionInit<Type extends string, Desc extends DescMessage> {
  /** The event type, e.g. `agent.task.created`. */
  readonly type: Type;
  /** The protoc-gen-es message schema (`TaskCreatedSchema`). */
  readonly schema: Desc;
  /** Envelope defaults. */
  readonly defaults?: EventDefaults;
}

/** A typed event: its type string, its message, and the means to publish and read it. */
export interface EventDefinition<Type extends string = string, Desc extends DescMessage = DescMessage> {
  /** The event type, e.g. `agent.task.created`. */
  readonly type: Type;
  /** The protoc-gen-es message schema. */
  readonly schema: Desc;
  /** Fully qualified message name, e.g. `examples.agents.v1.TaskCreated`. */
  readonly messageName: string;
  /** Envelope defaults of the type. */
  readonly defaults: EventDefaults;
  /** Builds the message from a payload. */
  create(payload: EventPayload<Desc>): MessageShape<Desc>;
  /** Encodes a payload (or a message) to Protobuf binary. */
  encode(payload: EventPayload<Desc> | MessageShape<Desc>): Uint8Array;
  /** Decodes Protobuf binary. */
  decode(bytes: Uint8Array): MessageShape<Desc>;
  /**
   * Decodes an envelope's payload: Protobuf binary, or canonical proto JSON
   * when the content type is JSON (as an untyped publisher may send it).
   */
  decodeEvent(event: Pick<Event, "data" | "dataContentType">): MessageShape<Desc>;
  /** The envelope of a publish: binary payload, the type's defaults, and `options`. */
  event(payload: EventPayload<Desc>, options?: PublishOptions): EventInput & { readonly type: Type };
  /**
   * The serialized `google.protobuf.FileDescriptorSet` to register the type
   * with (the message's file and its imports, canonical bytes).
   */
  fileDescriptorSet(): Uint8Array;
}

/** Tells whether a value is an {@link EventDefinition}. */
export function isEventDefinition(value: unknown): value is EventDefinition {
  return typeof value === "object" && value !== null && (value as { [DEFINITION]?: unknown })[DEFINITION] === true;
}

const DEFINITION = Symbol.for("protobus.event-definition");

function isJson(contentType: string): boolean {
  const media = contentType.split(";")[0]?.trim().toLowerCase() ?? "";
  return media === "application/json" || media.endsWith("+json");
}

/**
 * Defines a typed event. Generated code calls this; write it by hand only
 * for messages you cannot annotate.
 *
 * @example
 * export const TaskCreated = defineEvent({ type: "agent.task.created", schema: TaskCreatedSchema, defaults: { priority: 3 } });
 */
export function defineEvent<const Type extends string, Desc extends DescMessage>(init: EventDefinitionInit<Type, Desc>): EventDefinition<Type, Desc> {
  if (!isValidEventType(init.type)) throw new RangeError(`'${init.type}' is not a valid event type (lower-case dotted tokens, e.g. agent.task.created)`);
  const { schema } = init;
  const defaults = { ...init.defaults };
  let descriptorSet: Uint8Array | undefined;
  const createMessage = (payload: EventPayload<Desc>): MessageShape<Desc> => create(schema, payload as MessageInitShape<Desc>);
  const toMessage = (payload: EventPayload<Desc> | MessageShape<Desc>): MessageShape<Desc> =>
    (payload as { $typeName?: string }).$typeName === schema.typeName ? (payload as MessageShape<Desc>) : createMessage(payload as EventPayload<Desc>);
  const definition: EventDefinition<Type, Desc> & { [DEFINITION]: true } = {
    [DEFINITION]: true,
    type: init.type,
    schema,
    messageName: schema.typeName,
    defaults,
    create: createMessage,
    encode: (payload) => toBinary(schema, toMessage(payload)),
    decode: (bytes) => fromBinary(schema, bytes),
    decodeEvent(event) {
      if (isJson(event.dataContentType)) return fromJsonString(schema, Buffer.from(event.data).toString("utf8"));
      return fromBinary(schema, event.data);
    },
    event(payload, options = {}) {
      const { ttlMs, ...envelope } = options;
      const ttl = ttlMs ?? defaults.ttlMs;
      const priority = envelope.priority ?? defaults.priority;
      const expireTime = envelope.expireTime ?? (ttl === undefined ? undefined : new Date(Date.now() + ttl));
      return {
        ...envelope,
        type: init.type,
        data: toBinary(schema, createMessage(payload)),
        dataContentType: PROTOBUF_CONTENT_TYPE,
        ...(priority !== undefined ? { priority } : {}),
        ...(expireTime !== undefined ? { expireTime } : {}),
      };
    },
    fileDescriptorSet() {
      descriptorSet ??= descriptorSetFor(schema);
      return descriptorSet;
    },
  };
  return Object.freeze(definition);
}
