/**
 * Gauges of the request lane on `/metrics` (see transport/request-lane.ts):
 * large requests waiting for their turn (`protobus_large_requests_waiting`)
 * and their encoded bytes (`protobus_large_request_bytes_waiting`, at most
 * `max-waiting-request-bytes`: see transport/waiting-requests.ts), and the
 * encoded bytes of large requests decoded and not yet answered
 * (`protobus_large_request_bytes_in_progress`, at most 8 MiB unless one
 * request alone is larger). A waiting count that stays up means large
 * requests arrive faster than the server stores them.
 */
import { Gauge, type Registry } from "prom-client";
import type { TurnLane } from "../turn-lane.js";
import type { WaitingRequests } from "../transport/waiting-requests.js";

/** Registers the lane's gauges on `registry`; they read the lane when scraped. */
export function registerLaneGauges(registry: Registry, lane: TurnLane, waiting: WaitingRequests): void {
  const registers = [registry];
  new Gauge({
    name: "protobus_large_requests_waiting",
    help: "Large requests (64 KiB and up) received and waiting to be decoded in their turn.",
    registers,
    collect() {
      this.set(lane.waiting);
    },
  });
  new Gauge({
    name: "protobus_large_request_bytes_waiting",
    help: "Encoded bytes of large requests received and waiting for their turn.",
    registers,
    collect() {
      this.set(waiting.bytes);
    },
  });
  new Gauge({
    name: "protobus_large_request_bytes_in_progress",
    help: "Encoded bytes of large requests decoded and not yet answered.",
    registers,
    collect() {
      this.set(lane.held);
    },
  });
}
