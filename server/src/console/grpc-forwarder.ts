/**
 * The console's way into the server: a gRPC client of the server's own
 * listener. Every console call goes through the same services, and so
 * through the same interceptors, limits and checks, as any other client's;
 * the caller's `Authorization` header travels along as call metadata.
 */
import { X509Certificate } from "node:crypto";
import { Client, credentials, Metadata, type ChannelCredentials, type ClientDuplexStream, type ServiceError } from "@grpc/grpc-js";

const identity = (value: Buffer): Buffer => value;

/** Options of {@link GrpcForwarder}. */
export interface GrpcForwarderOptions {
  /** `host:port` of the server's gRPC listener. */
  readonly address: string;
  /** Deadline of a unary call, in ms. */
  readonly unaryTimeoutMs: number;
  /**
   * When the listener has TLS: its current certificate (PEM). The console
   * connects over TLS and accepts exactly that certificate, whoever signed
   * it (it is the server's own, reached over loopback).
   */
  readonly serverCertificate?: () => Buffer;
}

function pinnedTls(serverCertificate: () => Buffer): ChannelCredentials {
  return credentials.createSsl(null, null, null, {
    // Trust is the pin below, not a CA: the listener is this very server.
    rejectUnauthorized: false,
    checkServerIdentity: (_host, presented) => {
      const expected = new X509Certificate(serverCertificate()).fingerprint256;
      return presented.fingerprint256 === expected ? undefined : new Error("the gRPC listener presented a certificate other than the server's own");
    },
  });
}

/** The result of a forwarded unary call. */
export type ForwardedResult = { readonly ok: true; readonly body: Buffer } | { readonly ok: false; readonly error: ServiceError };

/** Forwards encoded requests to the server's gRPC listener. */
export class GrpcForwarder {
  readonly #client: Client;
  readonly #timeoutMs: number;

  constructor(options: GrpcForwarderOptions) {
    const channelCredentials = options.serverCertificate === undefined ? credentials.createInsecure() : pinnedTls(options.serverCertificate);
    this.#client = new Client(options.address, channelCredentials, {
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
