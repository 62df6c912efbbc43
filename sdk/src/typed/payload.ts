/**
 * The payload a typed publish takes, derived from the protoc-gen-es message
 * type.
 *
 * How proto3 presence maps to "required" (so that forgetting a field does
 * not compile):
 * - scalar, enum and bytes fields without `optional` (implicit presence)
 *   are required: proto3 cannot tell "unset" from the zero value, so the
 *   publisher states the value, even when it is `""`, `0` or `false`;
 * - fields with explicit presence are optional: `optional` scalars,
 *   message fields (absent = not set) and oneofs (absent = no case);
 * - repeated and map fields are optional (absent = empty).
 * Nested messages follow the same rules, recursively.
 */
import type { DescMessage, Message, MessageShape } from "@bufbuild/protobuf";

type Meta = "$typeName" | "$unknown";

// True for members a publisher may leave out.
type IsOptional<V> = undefined extends V
  ? true
  : V extends readonly unknown[]
    ? true
    : V extends Uint8Array
      ? false
      : V extends { $typeName: string }
        ? false
        : V extends object
          ? true // a oneof ({ case, value }) or a map
          : false;

type RequiredKeys<M> = { [K in Exclude<keyof M, Meta>]-?: IsOptional<M[K]> extends true ? never : K }[Exclude<keyof M, Meta>];
type OptionalKeys<M> = Exclude<keyof M, Meta | RequiredKeys<M>>;

type Simplify<T> = { [K in keyof T]: T[K] } & {};

/** What a value of a message-shaped member accepts. */
export type FieldInput<V> = V extends Message
  ? MessagePayload<V>
  : V extends readonly (infer E)[]
    ? readonly FieldInput<E>[]
    : V extends Uint8Array
      ? V
      : V extends { case: infer C; value?: infer X }
        ? C extends undefined
          ? { case: undefined; value?: undefined }
          : { case: C; value: FieldInput<X> }
        : V extends object
          ? { [key: string]: FieldInput<V[keyof V]> }
          : V;

/** The payload of a message type `M`, with the presence rules above. */
export type MessagePayload<M> = Simplify<
  { [K in RequiredKeys<M>]: FieldInput<M[K]> } & { [K in OptionalKeys<M>]?: FieldInput<Exclude<M[K], undefined>> }
>;

/** The payload of the message described by `Desc`. */
export type EventPayload<Desc extends DescMessage> = MessagePayload<MessageShape<Desc>>;
