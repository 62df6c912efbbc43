/**
 * Requests that cannot be decoded, or that are far over a method's size cap,
 * are answered INVALID_ARGUMENT by the transport before any handler runs.
 * grpc-js answers INTERNAL when a request does not deserialize and gives a
 * handler no say; here the deserializer never throws: it returns a marker
 * carrying the error, and the wrapped handler answers with it. A cap is
 * checked on the raw bytes, so a multi-megabyte request over it is never
 * decoded (decoding and copying it is what would hold up other callers).
 * A large request within its cap is decoded later, in its turn (see
 * request-lane.ts).
 */
import type { Metadata, ServiceDefinition, UntypedHandleCall, UntypedServiceImplementation } from "@grpc/grpc-js";
import { Code, type ProtobusError } from "@protobus/sdk";
import { invalidArgument, limitExceeded } from "../errors.js";
import { DeferredRequest, LARGE_REQUEST_BYTES, isDeferredRequest } from "./request-lane.js";

/** A size cap of one method, on its encoded request, and the limit to name when it is exceeded. */
export interface RequestCap {
  /** Largest encoded request, in bytes. */
  readonly maxBytes: number;
  /** The flag the cap derives from, e.g. `max-schema-bytes`. */
  readonly limit: string;
  /** The flag's value. */
  readonly limitValue: number;
  /** The request field that carries the bulk, e.g. `schema`. */
  readonly field: string;
}

const REFUSED = Symbol("refused request");

interface Refused {
  readonly [REFUSED]: ProtobusError;
}

/** The refusal a request stands for, or undefined for a request to serve. */
export function requestRefusal(value: unknown): ProtobusError | undefined {
  return typeof value === "object" && value !== null && REFUSED in value ? (value as Refused)[REFUSED] : undefined;
}

/** A request refused with `error`, in place of the request: its handler answers with the error. */
export function refusedRequest(error: ProtobusError): unknown {
  return { [REFUSED]: error } satisfies Refused;
}

/**
 * True for a request the guard refused (it did not decode, or was over its
 * cap): it carries no fields, so interceptors that read requests pass it on
 * to the handler, which answers with the refusal.
 */
export function isRefusedRequest(message: unknown): boolean {
  return requestRefusal(message) !== undefined;
}

type Status = { code: number; details: string; metadata: Metadata };

type MethodDefinition = ServiceDefinition[string] & { readonly originalName?: string };

function guardDeserializer(name: string, method: MethodDefinition, cap: RequestCap | undefined): (bytes: Buffer) => unknown {
  const decode = method.requestDeserialize;
  const guarded = (bytes: Buffer): unknown => {
    try {
      return decode(bytes);
    } catch (error) {
      return refusedRequest(
        invalidArgument([
          {
            field: "request",
            description: `is not a valid ${name} request message (${bytes.length} bytes): ${error instanceof Error ? error.message : String(error)}`,
            reason: "MALFORMED",
          },
        ]),
      );
    }
  };
  return (bytes) => {
    if (cap !== undefined && bytes.length > cap.maxBytes) {
      return refusedRequest(
        limitExceeded(
          {
            field: cap.field,
            subject: cap.field,
            limit: cap.limit,
            value: cap.limitValue,
            description: `${cap.field}: the ${name} request is ${bytes.length} bytes, too large for a ${cap.field} within the limit of ${cap.limitValue} bytes`,
          },
          Code.INVALID_ARGUMENT,
        ),
      );
    }
    // A large request is decoded in its turn (request-lane.ts), by the interceptor chain.
    return bytes.length >= LARGE_REQUEST_BYTES ? new DeferredRequest(bytes, guarded) : guarded(bytes);
  };
}

/** A request as the handler must see it: a deferred one that reached it without its turn is decoded now. */
function decoded(message: unknown): unknown {
  return isDeferredRequest(message) ? message.decode() : message;
}

type StreamCall = { emit(event: string | symbol, ...args: unknown[]): boolean; request?: unknown };

function guardHandler(method: MethodDefinition, handler: UntypedHandleCall, inOrder: boolean): UntypedHandleCall {
  if (!method.requestStream) {
    if (!method.responseStream) {
      return ((call: { request: unknown }, callback: (error: Status | null) => void) => {
        call.request = decoded(call.request);
        const error = requestRefusal(call.request);
        if (error !== undefined) callback(error.toServiceStatus());
        else (handler as (call: unknown, callback: unknown) => void)(call, callback);
      }) as UntypedHandleCall;
    }
    return ((call: StreamCall) => {
      call.request = decoded(call.request);
      const error = requestRefusal(call.request);
      if (error !== undefined) call.emit("error", error.toServiceStatus());
      else (handler as (call: unknown) => void)(call);
    }) as UntypedHandleCall;
  }
  // The handler fails a refused message in its order, after answering the ones before it.
  if (inOrder) {
    return ((call: StreamCall) => {
      const emit = call.emit.bind(call);
      call.emit = (event: string | symbol, ...args: unknown[]): boolean => (event === "data" ? emit(event, decoded(args[0])) : emit(event, ...args));
      (handler as (call: unknown) => void)(call);
    }) as UntypedHandleCall;
  }
  // Streamed requests: a refused message ends the call with its status; later ones are dropped.
  return ((call: StreamCall) => {
    const emit = call.emit.bind(call);
    let refused = false;
    call.emit = (event: string | symbol, ...args: unknown[]): boolean => {
      if (event === "data") {
        if (refused) return true;
        const message = decoded(args[0]);
        const error = requestRefusal(message);
        if (error !== undefined) {
          refused = true;
          return emit("error", error.toServiceStatus());
        }
        return emit(event, message);
      }
      return emit(event, ...args);
    };
    (handler as (call: unknown) => void)(call);
  }) as UntypedHandleCall;
}

/**
 * Wraps a service so that malformed requests get INVALID_ARGUMENT and
 * requests over `caps` (by method name, as in the definition: `registerSchema`)
 * a limit error, without reaching the handlers. The streaming methods named
 * in `inOrder` get refused messages as requests (see {@link requestRefusal})
 * and fail them in their order; on other streams a refused message ends the
 * call at once.
 */
export function guardService(
  definition: ServiceDefinition,
  implementation: UntypedServiceImplementation,
  caps: Readonly<Record<string, RequestCap>> = {},
  inOrder: readonly string[] = [],
): { definition: ServiceDefinition; implementation: UntypedServiceImplementation } {
  const guardedDefinition: Record<string, MethodDefinition> = {};
  const guardedImplementation: UntypedServiceImplementation = {};
  for (const [name, method] of Object.entries(definition) as [string, MethodDefinition][]) {
    const label = method.path.slice(method.path.lastIndexOf("/") + 1);
    guardedDefinition[name] = { ...method, requestDeserialize: guardDeserializer(label, method, caps[name]) };
    const handler = implementation[name];
    if (handler !== undefined) guardedImplementation[name] = guardHandler(method, handler, inOrder.includes(name));
  }
  return { definition: guardedDefinition as unknown as ServiceDefinition, implementation: guardedImplementation };
}
