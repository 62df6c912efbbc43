/**
 * A Subscribe stream over the generated grpc-js client that reads every
 * delivery and acks only when told: what a subscriber that never acks (or
 * acks late) looks like to the server.
 */
import { credentials } from "@grpc/grpc-js";
import { EventBusClient, OpenSubscription, type SubscribeResponse } from "@protobus/sdk/proto";
import { deliveriesOf, openedOf } from "./raw-calls.js";

/** One delivery as received. */
export interface ReceivedDelivery {
  readonly deliveryId: string;
  readonly sequence: bigint;
  readonly bytes: number;
}

/** An open stream that holds its deliveries until `ack`. */
export interface HeldStream {
  /** Resolves once `opened` arrived; rejects with the status the stream ended with before that. */
  readonly opened: Promise<void>;
  /** Every delivery received, in order. */
  readonly received: ReceivedDelivery[];
  /** Acks every delivery received and not acked yet. */
  ackAll(): void;
  /** Ends the stream and closes its connection. */
  close(): void;
}

/** A client of its own (its own connection), closed with the stream. */
export function rawBusClient(address: string): EventBusClient {
  return new EventBusClient(address, credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1 });
}

/** Opens a subscription that reads but acks only on `ackAll` (or, with `autoAck`, each delivery at once). */
export function openHeldStream(address: string, open: Partial<OpenSubscription>, autoAck = false): HeldStream {
  const client = rawBusClient(address);
  const call = client.subscribe();
  const received: ReceivedDelivery[] = [];
  let acked = 0;
  const opened = openedOf(call);
  const ack = (ids: string[]): void => {
    if (ids.length > 0) call.write({ request: { $case: "ack", ack: { deliveryIds: ids, confirm: false } } });
  };
  call.on("data", (response: SubscribeResponse) => {
    for (const d of deliveriesOf(response)) {
      received.push({ deliveryId: d.deliveryId, sequence: d.event?.sequence ?? 0n, bytes: d.event?.data.length ?? 0 });
    }
    if (autoAck) ackAll();
  });
  const ackAll = (): void => {
    ack(received.slice(acked).map((d) => d.deliveryId));
    acked = received.length;
  };
  call.write({ request: { $case: "open", open: OpenSubscription.fromPartial(open) } });
  return {
    opened,
    received,
    ackAll,
    close: () => {
      call.cancel();
      client.close();
    },
  };
}
