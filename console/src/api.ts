/**
 * The page's way to the server: each call names an RPC of the contract
 * (`EventBus.method.queryEvents`) and goes to the console route of the same
 * name, its request and answer converted with the generated descriptors. The
 * page has no model of its own.
 */
import { create, fromJson, toJson, type DescMessage, type DescMethodUnary, type JsonValue, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import { token } from "./credentials.js";

/** One `google.rpc` detail of a failed call. */
export interface ErrorDetail {
  readonly type: string;
  readonly debug?: JsonValue;
}

/** A failed call: the gRPC code (snake case, as Connect spells it), message and details. */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly details: readonly ErrorDetail[] = [],
  ) {
    super(message);
  }

  /** The message with each bad field named, for showing to a person. */
  describe(): string {
    const lines = [this.message];
    if (this.code === "unauthenticated") lines.push("Sign in with a bearer token (top right).");
    for (const detail of this.details) {
      const debug = detail.debug as { fieldViolations?: { field?: string; description?: string }[]; violations?: { subject?: string; description?: string }[] } | undefined;
      for (const v of debug?.fieldViolations ?? []) lines.push(`${v.field ?? ""}: ${v.description ?? ""}`);
      for (const v of debug?.violations ?? []) lines.push(`${v.subject ?? ""}: ${v.description ?? ""}`);
    }
    return lines.join("\n");
  }
}

/** Headers of every call: the stored bearer token, when there is one. */
export function authHeaders(): Record<string, string> {
  const value = token();
  return value === "" ? {} : { authorization: `Bearer ${value}` };
}

/** The console route of an RPC. */
export function routeOf(method: { readonly parent: { readonly typeName: string }; readonly name: string }): string {
  return `/api/${method.parent.typeName}/${method.name}`;
}

/** Turns a failed answer into an {@link ApiError}. */
export async function errorOf(response: Response): Promise<ApiError> {
  try {
    const body = (await response.json()) as { code?: string; message?: string; details?: ErrorDetail[] };
    return new ApiError(body.code ?? "unknown", body.message ?? response.statusText, body.details ?? []);
  } catch {
    return new ApiError("unavailable", `the console answered HTTP ${response.status}`);
  }
}

/** Calls a unary RPC through the console. */
export async function call<I extends DescMessage, O extends DescMessage>(
  method: DescMethodUnary<I, O>,
  request: MessageInitShape<I>,
): Promise<MessageShape<O>> {
  let response: Response;
  try {
    response = await fetch(routeOf(method), {
      method: "POST",
      headers: { "content-type": "application/json", ...authHeaders() },
      body: JSON.stringify(toJson(method.input, create(method.input, request))),
    });
  } catch (error) {
    throw new ApiError("unavailable", `the server cannot be reached: ${(error as Error).message}`);
  }
  if (!response.ok) throw await errorOf(response);
  return fromJson(method.output, (await response.json()) as JsonValue, { ignoreUnknownFields: true });
}
