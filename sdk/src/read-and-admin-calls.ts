/**
 * The client's reads (history, lookups, bus info, flows) and its consumer
 * group and dead-letter administration: each a unary call through the
 * client's interceptor chain, its request built from the SDK's options.
 */
import type { BusInfo, DeliveryStats, EventBusClient, Flow, GroupInfo, QueryEventsRequest } from "./gen/protobus/v1/bus.pb.js";
import type { Event } from "./gen/protobus/v1/event.pb.js";
import type { ClientCore, DeadLetterPage, DeadLetterTarget, QueryOptions, QueryPage } from "./client.js";
import type { UnaryInvoke } from "./unary-call.js";

/** Runs one unary call (see `createUnaryCaller`). */
export type UnaryCaller = <Res>(invoke: UnaryInvoke<Res>) => Promise<Res>;

/** The calls of {@link ClientCore} that are not publish, flush, close. */
export type ReadAndAdminCalls = Pick<
  ClientCore,
  | "query"
  | "queryAll"
  | "getEvent"
  | "info"
  | "getFlow"
  | "listGroups"
  | "getGroup"
  | "deleteGroup"
  | "listDeadLetters"
  | "redriveDeadLetters"
  | "purgeDeadLetters"
  | "deliveryStats"
>;

function toSelection(target: DeadLetterTarget): { sequences: bigint[]; all: boolean } {
  return target === "all" ? { sequences: [], all: true } : { sequences: target.map((s) => BigInt(s)), all: false };
}

function toRequest(q: QueryOptions): QueryEventsRequest {
  return {
    patterns: [...(q.patterns ?? [])],
    source: q.source ?? "",
    correlationId: q.correlationId ?? "",
    tags: [...(q.tags ?? [])],
    fromTime: q.fromTime,
    toTime: q.toTime,
    fromSequence: BigInt(q.fromSequence ?? 0),
    limit: q.limit ?? 0,
    pageToken: q.pageToken ?? "",
  };
}

/** The dead-letter calls over `raw`. */
function deadLetterCalls(raw: EventBusClient, unaryCall: UnaryCaller): Pick<ReadAndAdminCalls, "listDeadLetters" | "redriveDeadLetters" | "purgeDeadLetters"> {
  return {
    listDeadLetters: (group, o = {}) => {
      const request = {
        group,
        patterns: [...(o.patterns ?? [])],
        fromSequence: BigInt(o.fromSequence ?? 0),
        limit: o.limit ?? 0,
        pageToken: o.pageToken ?? "",
      };
      return unaryCall<DeadLetterPage>((md, opts, cb) => raw.listDeadLetters(request, md, opts, cb));
    },
    redriveDeadLetters: async (group, target) => {
      const request = { group, ...toSelection(target) };
      const response = await unaryCall<{ count: bigint }>((md, opts, cb) => raw.redriveDeadLetters(request, md, opts, cb));
      return Number(response.count);
    },
    purgeDeadLetters: async (group, target) => {
      const request = { group, ...toSelection(target) };
      const response = await unaryCall<{ count: bigint }>((md, opts, cb) => raw.purgeDeadLetters(request, md, opts, cb));
      return Number(response.count);
    },
  };
}

/** The read and administration calls over `raw`. */
export function readAndAdminCalls(raw: EventBusClient, unaryCall: UnaryCaller): ReadAndAdminCalls {
  const query = (q: QueryOptions = {}): Promise<QueryPage> => unaryCall<QueryPage>((md, opts, cb) => raw.queryEvents(toRequest(q), md, opts, cb));
  return {
    query,
    async *queryAll(q = {}) {
      let pageToken = "";
      do {
        const page = await query({ ...q, pageToken });
        yield* page.events;
        pageToken = page.nextPageToken;
      } while (pageToken !== "");
    },
    getEvent: (id) => unaryCall<Event>((md, opts, cb) => raw.getEvent({ id }, md, opts, cb)),
    info: () => unaryCall<BusInfo>((md, opts, cb) => raw.getBusInfo({}, md, opts, cb)),
    getFlow: (correlationId) => unaryCall<Flow>((md, opts, cb) => raw.getFlow({ correlationId }, md, opts, cb)),
    listGroups: async () => (await unaryCall<{ groups: GroupInfo[] }>((md, opts, cb) => raw.listGroups({}, md, opts, cb))).groups,
    getGroup: (name) => unaryCall<GroupInfo>((md, opts, cb) => raw.getGroup({ name }, md, opts, cb)),
    deleteGroup: async (name) => {
      await unaryCall<unknown>((md, opts, cb) => raw.deleteGroup({ name }, md, opts, cb));
    },
    ...deadLetterCalls(raw, unaryCall),
    deliveryStats: () => unaryCall<DeliveryStats>((md, opts, cb) => raw.getDeliveryStats({}, md, opts, cb)),
  };
}
