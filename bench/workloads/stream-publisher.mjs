// Publishes batches over one `EventBus.PublishStream` with a fixed number of
// requests in flight, optionally held back by a `canSend()` gate (used to
// keep publishers from running ahead of subscribers).
import { payload, wireBatch } from "../lib/event-shape.mjs";

/**
 * Starts publishing `batch` events per request, keeping `inflight` requests
 * outstanding, until `stop()` or until `total` events are acknowledged.
 */
export function startStreamPublisher({ client, batch, inflight, total = Infinity, canSend = () => true, payloadKind = "bytes", data = payload() }) {
  const events = wireBatch(batch, payloadKind, data);
  const call = client.publishStream();
  let acked = 0;
  let sent = 0;
  let outstanding = 0;
  let stopping = false;
  let failure;
  let resolveIdle;
  let idle = new Promise((resolve) => (resolveIdle = resolve));
  const finished = new Promise((resolve, reject) => {
    call.on("error", (error) => {
      failure = error;
      reject(error);
      resolveIdle();
    });
    call.on("end", () => resolve());
  });
  finished.catch(() => undefined);
  let doneResolve;
  const done = new Promise((resolve) => (doneResolve = resolve));

  const pump = () => {
    while (!stopping && failure === undefined && outstanding < inflight && sent < total && canSend(sent)) {
      outstanding += 1;
      sent += batch;
      call.write({ events });
    }
    if (outstanding === 0) resolveIdle();
  };
  call.on("data", (response) => {
    outstanding -= 1;
    acked += response.results.length;
    if (acked >= total) doneResolve();
    pump();
  });
  pump();
  return {
    get acked() {
      return acked;
    },
    get sent() {
      return sent;
    },
    /** Wakes the publisher after its gate may have opened. */
    poke: pump,
    /** Resolves once `total` events are acknowledged. */
    done,
    async stop() {
      stopping = true;
      if (outstanding > 0) {
        idle = new Promise((resolve) => (resolveIdle = resolve));
        if (outstanding === 0 || failure !== undefined) resolveIdle();
        await idle;
      }
      call.end();
      await finished.catch(() => undefined);
      if (failure !== undefined) throw failure;
    },
  };
}
