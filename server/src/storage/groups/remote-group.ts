/**
 * A consumer group whose engine runs on another protobus server, reached
 * through the {@link GroupCoordinator}: each operation becomes one
 * `ForwardRequest` to the owner, and its `ForwardReply` the result (a
 * failure is thrown as the ProtobusError the owner raised). Member ids are
 * made unique across servers by prefixing this server's id.
 */
import type { ForwardReply, ForwardRequest } from "@protobus/sdk/internal";
import { Code, ProtobusError } from "@protobus/sdk";
import type { DeadLetter, DeadLetterQuery, DeadLetterSelection, GroupDelivery, GroupSettings, GroupStats, NackOptions } from "../group-store.js";
import type { GroupCoordinator, OwnerAddress } from "./group-coordinator.js";
import {
  deadLetterFromWire,
  deliveryFromWire,
  replyResult,
  selectionToWire,
  settingsToWire,
  statsFromWire,
} from "./group-forwarding-codec.js";

type Result = NonNullable<ForwardReply["result"]>;

/** What the owner answered, of the kind expected; anything else is a protocol error. */
function expect<K extends Result["$case"]>(result: Result, kind: K): Extract<Result, { $case: K }> {
  if (result.$case !== kind) throw new ProtobusError(Code.INTERNAL, `a forwarded operation expected ${kind}, got ${result.$case}`);
  return result as Extract<Result, { $case: K }>;
}

/** The ids an ack or nack acted on; undefined when the owner did not say (all of them). */
function actedOn(result: Result): readonly string[] | undefined {
  return result.$case === "actedOn" ? result.actedOn.deliveryIds : undefined;
}

/** A group run by the server at `owner`. */
export class RemoteGroup {
  readonly #coordinator: GroupCoordinator;
  /** Where the owner answers. */
  readonly owner: OwnerAddress;

  constructor(coordinator: GroupCoordinator, owner: OwnerAddress) {
    this.#coordinator = coordinator;
    this.owner = owner;
  }

  /** The member's id as the owner knows it. */
  memberId(member: string): string {
    return `${this.#coordinator.serverId}/${member}`;
  }

  async join(member: string): Promise<void> {
    await this.#send({ $case: "join", join: { member: this.memberId(member) } });
  }

  async leave(member: string): Promise<void> {
    await this.#send({ $case: "leave", leave: { member: this.memberId(member) } });
  }

  /** Claims up to `max` deliveries of at most `maxBytes` together (unbounded when undefined). */
  async claim(member: string, max: number, maxBytes?: number): Promise<GroupDelivery[]> {
    const claim = { member: this.memberId(member), max, ...(maxBytes !== undefined ? { maxBytes: BigInt(maxBytes) } : {}) };
    const result = await this.#send({ $case: "claim", claim });
    return expect(result, "deliveries").deliveries.deliveries.map(deliveryFromWire);
  }

  /** Acks; resolves to the ids acted on, or undefined for all of them. */
  async ack(deliveryIds: readonly string[], confirm: boolean): Promise<readonly string[] | undefined> {
    return actedOn(await this.#send({ $case: "ack", ack: { deliveryIds: [...deliveryIds], confirm } }));
  }

  /** Nacks; resolves to the ids acted on, or undefined for all of them. */
  async nack(deliveryIds: readonly string[], options: Omit<NackOptions, "onActed">): Promise<readonly string[] | undefined> {
    const nack = {
      deliveryIds: [...deliveryIds],
      ...(options.delayMs !== undefined ? { delayMs: BigInt(options.delayMs) } : {}),
      ...(options.reason !== undefined ? { reason: options.reason } : {}),
    };
    return actedOn(await this.#send({ $case: "nack", nack }));
  }

  async extend(deliveryIds: readonly string[], extensionMs: number): Promise<void> {
    await this.#send({ $case: "extend", extend: { deliveryIds: [...deliveryIds], extensionMs: BigInt(extensionMs) } });
  }

  async stats(): Promise<GroupStats> {
    return statsFromWire(expect(await this.#send({ $case: "stats", stats: {} }), "stats").stats);
  }

  async listDeadLetters(query: DeadLetterQuery): Promise<DeadLetter[]> {
    const listDeadLetters = { afterSequence: query.afterSequence, limit: query.limit, patterns: [...(query.patterns ?? [])] };
    const result = await this.#send({ $case: "listDeadLetters", listDeadLetters });
    return expect(result, "deadLetters").deadLetters.deadLetters.map(deadLetterFromWire);
  }

  async redrive(selection: DeadLetterSelection): Promise<number> {
    return Number(expect(await this.#send({ $case: "redrive", redrive: selectionToWire(selection) }), "count").count.count);
  }

  async purge(selection: DeadLetterSelection): Promise<number> {
    return Number(expect(await this.#send({ $case: "purge", purge: selectionToWire(selection) }), "count").count.count);
  }

  async updateSettings(settings: GroupSettings): Promise<void> {
    await this.#send({ $case: "updateSettings", updateSettings: { settings: settingsToWire(settings) } });
  }

  /** Tells the owner the group was deleted. */
  async deleted(): Promise<void> {
    await this.#send({ $case: "deleted", deleted: {} });
  }

  async #send(operation: NonNullable<ForwardRequest["operation"]>): Promise<Result> {
    return replyResult(await this.#coordinator.forward(this.owner, { operation }));
  }
}
