/**
 * The standard `grpc.health.v1.Health` service: `Check`, `Watch` and `List`
 * for the whole server (service "") and for each protobus service.
 */
import type { ServerUnaryCall, ServerWritableStream, sendUnaryData } from "@grpc/grpc-js";
import { status } from "@grpc/grpc-js";
import {
  HealthCheckResponse_ServingStatus as ServingStatus,
  type HealthCheckRequest,
  type HealthCheckResponse,
  type HealthServer,
  type HealthListRequest,
  type HealthListResponse,
} from "@protobus/sdk/proto";

/** The health of every service the server hosts. */
export class HealthStatus {
  readonly #statuses = new Map<string, ServingStatus>();
  readonly #watchers = new Map<string, Set<ServerWritableStream<HealthCheckRequest, HealthCheckResponse>>>();

  /** @param services fully qualified names of the hosted services. */
  constructor(services: readonly string[]) {
    for (const service of ["", ...services]) this.#statuses.set(service, ServingStatus.SERVING);
  }

  /** Sets every service's status (NOT_SERVING while shutting down). */
  setAll(servingStatus: ServingStatus): void {
    for (const service of this.#statuses.keys()) {
      this.#statuses.set(service, servingStatus);
      for (const watcher of this.#watchers.get(service) ?? []) watcher.write({ status: servingStatus });
    }
  }

  /** Ends every Watch stream (at shutdown). */
  endWatches(): void {
    for (const watchers of this.#watchers.values()) for (const watcher of watchers) watcher.end();
    this.#watchers.clear();
  }

  /** A grpc-js implementation of `grpc.health.v1.Health`. */
  implementation(): HealthServer {
    return {
      check: (call: ServerUnaryCall<HealthCheckRequest, HealthCheckResponse>, callback: sendUnaryData<HealthCheckResponse>) => {
        const current = this.#statuses.get(call.request.service);
        if (current === undefined) {
          callback({ code: status.NOT_FOUND, details: `unknown service '${call.request.service}'` });
          return;
        }
        callback(null, { status: current });
      },
      watch: (call: ServerWritableStream<HealthCheckRequest, HealthCheckResponse>) => {
        const service = call.request.service;
        call.write({ status: this.#statuses.get(service) ?? ServingStatus.SERVICE_UNKNOWN });
        let set = this.#watchers.get(service);
        if (set === undefined) this.#watchers.set(service, (set = new Set()));
        set.add(call);
        call.on("cancelled", () => set.delete(call));
        call.on("close", () => set.delete(call));
      },
      list: (_call: ServerUnaryCall<HealthListRequest, HealthListResponse>, callback: sendUnaryData<HealthListResponse>) => {
        const statuses: Record<string, HealthCheckResponse> = {};
        for (const [service, s] of this.#statuses) statuses[service] = { status: s };
        callback(null, { statuses });
      },
    };
  }
}
