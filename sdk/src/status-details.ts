/**
 * Rich gRPC error details: a `google.rpc.Status` carried in the
 * `grpc-status-details-bin` trailer, as Google APIs and the gRPC richer error
 * model define it. The server writes it; the SDK reads it back into
 * {@link ErrorDetail} values.
 */
import { Metadata } from "@grpc/grpc-js";
import { type Any } from "./gen/google/protobuf/any.pb.js";
import {
  BadRequest,
  ErrorInfo,
  PreconditionFailure,
  QuotaFailure,
  ResourceInfo,
  RetryInfo,
} from "./gen/google/rpc/error_details.pb.js";
import { Status } from "./gen/google/rpc/status.pb.js";

/** The trailer key that carries the serialized `google.rpc.Status`. */
export const STATUS_DETAILS_KEY = "grpc-status-details-bin";

const TYPE_PREFIX = "type.googleapis.com/";

/**
 * One `google.rpc` error detail, told apart by `type` (the short message name).
 * Details of types the SDK does not know are kept as `unknown` with their
 * type URL and raw bytes.
 */
export type ErrorDetail =
  | { type: "BadRequest"; value: BadRequest }
  | { type: "PreconditionFailure"; value: PreconditionFailure }
  | { type: "ErrorInfo"; value: ErrorInfo }
  | { type: "QuotaFailure"; value: QuotaFailure }
  | { type: "ResourceInfo"; value: ResourceInfo }
  | { type: "RetryInfo"; value: RetryInfo }
  | { type: "unknown"; typeUrl: string; value: Uint8Array };

/** A detail type the SDK knows, by its short message name. */
type KnownDetail = Exclude<ErrorDetail, { type: "unknown" }>;

/** What the table needs of a generated message codec. */
interface DetailCodec<T> {
  encode(message: T): { finish(): Uint8Array };
  decode(input: Uint8Array): T;
}

/** The codec of each known detail type, keyed by its name in `google.rpc`. */
const CODECS: { readonly [T in KnownDetail["type"]]: DetailCodec<Extract<KnownDetail, { type: T }>["value"]> } = {
  BadRequest,
  PreconditionFailure,
  ErrorInfo,
  QuotaFailure,
  ResourceInfo,
  RetryInfo,
};

/** The codec of `type`, for a value of that type. */
function codecOf(type: KnownDetail["type"]): DetailCodec<KnownDetail["value"]> {
  // Each entry is typed against its own detail type above; a detail's value always goes with its own type's codec.
  return CODECS[type] as DetailCodec<KnownDetail["value"]>;
}

function pack(detail: ErrorDetail): Any {
  if (detail.type === "unknown") return { typeUrl: detail.typeUrl, value: Buffer.from(detail.value) };
  return { typeUrl: `${TYPE_PREFIX}google.rpc.${detail.type}`, value: Buffer.from(codecOf(detail.type).encode(detail.value).finish()) };
}

function unpack(any: Any): ErrorDetail {
  const name = any.typeUrl.slice(any.typeUrl.lastIndexOf("/") + 1);
  const type = name.startsWith("google.rpc.") ? name.slice("google.rpc.".length) : "";
  if (Object.hasOwn(CODECS, type)) {
    const known = type as KnownDetail["type"];
    return { type: known, value: codecOf(known).decode(any.value) } as KnownDetail;
  }
  return { type: "unknown", typeUrl: any.typeUrl, value: any.value };
}

/** Serializes a status with its details for the `grpc-status-details-bin` trailer. */
export function encodeStatusDetails(code: number, message: string, details: readonly ErrorDetail[]): Buffer {
  return Buffer.from(Status.encode({ code, message, details: details.map(pack) }).finish());
}

/**
 * Reads the `google.rpc` details out of a call's trailing metadata. Returns an
 * empty list when there are none or when they cannot be decoded.
 */
export function decodeStatusDetails(metadata: Metadata | undefined): ErrorDetail[] {
  const raw = metadata?.get(STATUS_DETAILS_KEY)[0];
  if (raw === undefined || typeof raw === "string") return [];
  try {
    return Status.decode(raw).details.map(unpack);
  } catch {
    return [];
  }
}

/** Builds trailing metadata that carries the given status details. */
export function statusDetailsMetadata(code: number, message: string, details: readonly ErrorDetail[]): Metadata {
  const metadata = new Metadata();
  metadata.set(STATUS_DETAILS_KEY, encodeStatusDetails(code, message, details));
  return metadata;
}
