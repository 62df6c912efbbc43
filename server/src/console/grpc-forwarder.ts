/**
 * The console's way into the server: a gRPC client of the server's own
 * listener. Every console call goes through the same services, and so
 * through the same interceptors, limits and checks, as any other client's;
 * the caller's `Authorization` header travels along as call metadata.
 */
import { Client, credentials, Metadata, type ClientDuplexStream, type ServiceError } from "@grpc/grpc-js";

const identity = (value: Buffer): Buffer => value;

/** Options of {@link GrpcForwarder}. */
export interface GrpcForwarderOptions {
  /** `host:port` of the server's gRPC listener. */
  readonly address: string;
  /** Deadline of a unary call, in ms. */
  readonly unaryTimeoutMs: number;
}

/** The result of a forwarded unary call. */
export type ForwardedResult = { readonly ok: true; readonly body: Buffer } | { readonly ok: false; readonly error: ServiceError };

/** Forwards encoded requests to the server's gRPC listener. */
export class GrpcForwarder {
  readonly #client: Client;
  readonly #timeoutMs: number;

  constructor(options: GrpcForwarderOptions) {
    this.#client = new Client(options.address, credentials.createInsecure(), {
      // Deliveries to a live view may be large batches.
      "grpc.max_receive_message_length": -1,
      "grpc.max_send_message_length": -1,
    });
    this.#timeoutMs = options.unaryTimeoutMs;
  }

  /** Calls a unary method with an encoded request. */
  unary(path: string, request: Buffer, metadata: Metadata): Promise<ForwardedResult> {
    return new Promise((resolve) => {
      this.#client.makeUnaryRequest(path, identity, identity, request, metadata, { deadline: Date.now() + this.#timeoutMs }, (error, body) => {
        if (error !== null) resolve({ ok: false, error });
        else resolve({ ok: true, body: body ?? Buffer.alloc(0) });
      });
    });
  }

  /** Opens a bidirectional stream (Subscribe) of encoded messages. */
  stream(path: string, metadata: Metadata): ClientDuplexStream<Buffer, Buffer> {
    return this.#client.makeBidiStreamRequest(path, identity, identity, metadata);
  }

  /** Closes the connection; open calls end with CANCELLED. */
  close(): void {
    this.#client.close();
  }
}

/** The metadata of a forwarded call: the browser's credentials, nothing else. */
export function forwardedMetadata(authorization: string | undefined): Metadata {
  const metadata = new Metadata();
  if (authorization !== undefined && authorization !== "") metadata.set("authorization", authorization);
  return metadata;
}
