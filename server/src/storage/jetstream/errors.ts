import { Code, ProtobusError } from "@protobus/sdk";
import { JetStreamApiError } from "@nats-io/jetstream";
import {
  AuthorizationError,
  ClosedConnectionError,
  ConnectionError,
  DrainingConnectionError,
  InvalidArgumentError,
  NoRespondersError,
  PermissionViolationError,
  RequestError,
  TimeoutError,
  UserAuthenticationExpiredError,
} from "@nats-io/transport-node";

// JetStream API error codes (nats-server `server/errors.json`) this backend
// gives a specific meaning to.
const JS_INSUFFICIENT_RESOURCES = 10023;
const JS_STORAGE_RESOURCES_EXCEEDED = 10047;
const JS_MEMORY_RESOURCES_EXCEEDED = 10028;
const JS_MAXIMUM_BYTES_EXCEEDED = 10054;
const JS_MAXIMUM_MESSAGES_EXCEEDED = 10077;
const JS_CLUSTER_NO_PEERS = 10005;
const JS_CLUSTER_NOT_AVAILABLE = 10008;
const JS_STREAM_OFFLINE = 10118;
const JS_NOT_ENABLED = 10076;
const JS_NOT_ENABLED_FOR_ACCOUNT = 10039;

/**
 * Maps a NATS or JetStream failure to a gRPC status, so that clients see
 * what they can do about it: retry (the cluster is unreachable or electing
 * a leader), free space (limits), or fix the setup (permissions, JetStream
 * off). A publish that failed this way may still have been stored: a retry
 * with the same event ids is deduplicated.
 */
export function jetstreamError(operation: string, error: unknown): ProtobusError {
  if (error instanceof ProtobusError) return error;
  const text = error instanceof Error ? error.message : String(error);
  const message = `jetstream ${operation} failed: ${text}`;
  const make = (code: Code) => new ProtobusError(code, message, [], { cause: error });
  if (error instanceof JetStreamApiError) {
    switch (error.code) {
      case JS_INSUFFICIENT_RESOURCES:
      case JS_STORAGE_RESOURCES_EXCEEDED:
      case JS_MEMORY_RESOURCES_EXCEEDED:
      case JS_MAXIMUM_BYTES_EXCEEDED:
      case JS_MAXIMUM_MESSAGES_EXCEEDED:
        return make(Code.RESOURCE_EXHAUSTED);
      case JS_CLUSTER_NO_PEERS:
      case JS_CLUSTER_NOT_AVAILABLE:
      case JS_STREAM_OFFLINE:
        return make(Code.UNAVAILABLE);
      case JS_NOT_ENABLED:
      case JS_NOT_ENABLED_FOR_ACCOUNT:
        return make(Code.FAILED_PRECONDITION);
    }
    // 503 is "no leader / not ready yet" in every JetStream API answer.
    return make(error.status === 503 ? Code.UNAVAILABLE : Code.INTERNAL);
  }
  // A request to the stream found no responder: the stream has no leader
  // right now (a node died, an election runs), or JetStream is off. The
  // client words it "jetstream is not enabled".
  if (error instanceof Error && error.name === "JetStreamNotEnabled") return make(Code.UNAVAILABLE);
  if (
    error instanceof TimeoutError ||
    error instanceof NoRespondersError ||
    error instanceof ConnectionError ||
    error instanceof ClosedConnectionError ||
    error instanceof DrainingConnectionError ||
    error instanceof RequestError
  ) {
    return make(Code.UNAVAILABLE);
  }
  if (error instanceof AuthorizationError || error instanceof UserAuthenticationExpiredError) return make(Code.UNAUTHENTICATED);
  if (error instanceof PermissionViolationError) return make(Code.PERMISSION_DENIED);
  // The client refuses a message larger than the server's max_payload.
  if (error instanceof InvalidArgumentError) return make(Code.RESOURCE_EXHAUSTED);
  return make(Code.INTERNAL);
}
