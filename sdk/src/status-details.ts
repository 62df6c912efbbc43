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

function pack(detail: ErrorDetail): Any {
  switch (detail.type) {
    case "BadRequest":
      return { typeUrl: `${TYPE_PREFIX}google.rpc.BadRequest`, value: Buffer.from(BadRequest.encode(detail.value).finish()) };
    case "PreconditionFailure":
      return {
        typeUrl: `${TYPE_PREFIX}google.rpc.PreconditionFailure`,
        value: Buffer.from(PreconditionFailure.encode(detail.value).finish()),
      };
    case "ErrorInfo":
      return { typeUrl: `${TYPE_PREFIX}google.rpc.ErrorInfo`, value: Buffer.from(ErrorInfo.encode(detail.value).finish()) };
    case "QuotaFailure":
      return { typeUrl: `${TYPE_PREFIX}google.rpc.QuotaFailure`, value: Buffer.from(QuotaFailure.encode(detail.value).finish()) };
    case "ResourceInfo":
      return { typeUrl: `${TYPE_PREFIX}google.rpc.ResourceInfo`, value: Buffer.from(ResourceInfo.encode(detail.value).finish()) };
    case "RetryInfo":
      return { typeUrl: `${TYPE_PREFIX}google.rpc.RetryInfo`, value: Buffer.from(RetryInfo.encode(detail.value).finish()) };
    case "unknown":
      return { typeUrl: detail.typeUrl, value: Buffer.from(detail.value) };
  }
}

function unpack(any: Any): ErrorDetail {
  const name = any.typeUrl.slice(any.typeUrl.lastIndexOf("/") + 1);
  switch (name) {
    case "google.rpc.BadRequest":
      return { type: "BadRequest", value: BadRequest.decode(any.value) };
    case "google.rpc.PreconditionFailure":
      return { type: "PreconditionFailure", value: PreconditionFailure.decode(any.value) };
    case "google.rpc.ErrorInfo":
      return { type: "ErrorInfo", value: ErrorInfo.decode(any.value) };
    case "google.rpc.QuotaFailure":
      return { type: "QuotaFailure", value: QuotaFailure.decode(any.value) };
    case "google.rpc.ResourceInfo":
      return { type: "ResourceInfo", value: ResourceInfo.decode(any.value) };
    case "google.rpc.RetryInfo":
      return { type: "RetryInfo", value: RetryInfo.decode(any.value) };
    default:
      return { type: "unknown", typeUrl: any.typeUrl, value: any.value };
  }
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
