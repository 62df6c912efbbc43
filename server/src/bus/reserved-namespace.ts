/**
 * The `protobus.*` event types are the server's own (flow alerts, audit
 * records): consumers trust them to come from the server, so no caller may
 * publish one. The server's own publishers say so with
 * `PublishOptions.system`, which no request can set.
 */
import type { Event } from "@protobus/sdk/proto";
import { permissionDenied } from "../errors.js";
import type { ProtobusError } from "@protobus/sdk";

/** The first token of every reserved event type. */
export const RESERVED_PREFIX = "protobus.";

/** The `ErrorInfo.reason` of a publish into the reserved namespace. */
export const RESERVED_NAMESPACE = "RESERVED_NAMESPACE";

/** True when `type` is in the namespace only the server publishes. */
export function isReservedType(type: string): boolean {
  return type.startsWith(RESERVED_PREFIX);
}

/**
 * PERMISSION_DENIED naming the first event of `events` whose type is
 * reserved (an `ErrorInfo` with reason `RESERVED_NAMESPACE`, metadata
 * `field` and `type`), or undefined when there is none.
 */
export function reservedNamespaceError(events: readonly Event[]): ProtobusError | undefined {
  const index = events.findIndex((event) => isReservedType(event.type));
  if (index < 0) return undefined;
  const type = (events[index] as Event).type;
  const field = `events[${index}].type`;
  return permissionDenied(
    `${field}: '${type.slice(0, 100)}' is in the reserved namespace '${RESERVED_PREFIX}*': only the server publishes these types`,
    RESERVED_NAMESPACE,
    { field, type: type.slice(0, 256) },
  );
}
