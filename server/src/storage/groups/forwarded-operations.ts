/**
 * The owner's side of forwarding: runs one `ForwardRequest` another server
 * sent on the engine of a group run here, and answers it as a
 * `ForwardReply` (a failure carries the error's gRPC code and message).
 */
import type { ForwardReply, ForwardRequest } from "@protobus/sdk/internal";
import { Code, ProtobusError } from "@protobus/sdk";
import type { GroupSettings } from "../group-store.js";
import type { GroupEngine } from "./group-engine.js";
import {
  deadLetterToWire,
  deliveryToWire,
  failureReply,
  selectionFromWire,
  settingsFromWire,
  statsToWire,
} from "./group-forwarding-codec.js";

/** The group a forwarded operation runs on. */
export interface ForwardTarget {
  readonly engine: GroupEngine;
  /** Resolves once what the engine committed is stored. */
  flushed(): Promise<void>;
  /** Applies settings another server stored. */
  updateSettings(settings: GroupSettings): void;
  /** The group was deleted on another server. */
  markDeleted(): void;
}

type Result = NonNullable<ForwardReply["result"]>;

const DONE: Result = { $case: "done", done: {} };

/** Answers one forwarded operation; `target` is undefined when the group no longer runs here. */
export async function answerForwarded(request: ForwardRequest, target: ForwardTarget | undefined, notOwner: string): Promise<ForwardReply> {
  try {
    if (target === undefined) throw new ProtobusError(Code.UNAVAILABLE, notOwner);
    return { result: await run(request, target) };
  } catch (error) {
    return failureReply(error);
  }
}

async function run(request: ForwardRequest, target: ForwardTarget): Promise<Result> {
  const { engine } = target;
  const operation = request.operation;
  switch (operation?.$case) {
    case "join":
      engine.join(operation.join.member);
      return DONE;
    case "leave":
      await engine.leave(operation.leave.member);
      return DONE;
    case "claim": {
      const { member, max, maxBytes } = operation.claim;
      const deliveries = await engine.claim(member, max, maxBytes === undefined ? undefined : Number(maxBytes));
      return { $case: "deliveries", deliveries: { deliveries: deliveries.map(deliveryToWire) } };
    }
    case "ack": {
      const deliveryIds: string[] = [];
      await engine.ack(operation.ack.deliveryIds, { confirm: operation.ack.confirm, onActed: (d) => deliveryIds.push(d.deliveryId) });
      return { $case: "actedOn", actedOn: { deliveryIds } };
    }
    case "nack": {
      const { nack } = operation;
      const deliveryIds: string[] = [];
      await engine.nack(nack.deliveryIds, {
        ...(nack.delayMs !== undefined ? { delayMs: Number(nack.delayMs) } : {}),
        ...(nack.reason !== undefined ? { reason: nack.reason } : {}),
        onActed: (d) => deliveryIds.push(d.deliveryId),
      });
      return { $case: "actedOn", actedOn: { deliveryIds } };
    }
    case "extend":
      await engine.extend(operation.extend.deliveryIds, Number(operation.extend.extensionMs));
      return DONE;
    default:
      return runAdmin(operation, target);
  }
}

/** The administrative operations: stats, dead letters, settings, deletion. */
async function runAdmin(operation: ForwardRequest["operation"], target: ForwardTarget): Promise<Result> {
  const { engine } = target;
  switch (operation?.$case) {
    case "stats":
      return { $case: "stats", stats: statsToWire(await engine.stats()) };
    case "listDeadLetters": {
      const { afterSequence, limit, patterns } = operation.listDeadLetters;
      const dead = await engine.listDeadLetters({ afterSequence, limit, patterns });
      return { $case: "deadLetters", deadLetters: { deadLetters: dead.map(deadLetterToWire) } };
    }
    case "redrive":
      return { $case: "count", count: { count: BigInt(await engine.redrive(selectionFromWire(operation.redrive))) } };
    case "purge": {
      const count = await engine.purge(selectionFromWire(operation.purge));
      await target.flushed();
      return { $case: "count", count: { count: BigInt(count) } };
    }
    case "updateSettings":
      target.updateSettings(settingsFromWire(operation.updateSettings.settings));
      return DONE;
    case "deleted":
      target.markDeleted();
      return DONE;
    default:
      throw new ProtobusError(Code.UNIMPLEMENTED, `a forwarded operation this server does not know: ${operation?.$case ?? "none"}`);
  }
}
