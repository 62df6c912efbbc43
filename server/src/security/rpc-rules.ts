/**
 * The permission each RPC needs, in one table. Every method of EventBus and
 * SchemaRegistry has a rule; a method without one is refused (and the
 * table-driven test over every method fails), so a new RPC cannot ship
 * without deciding who may call it.
 *
 * - `open`: no credential needed (health checks, reflection of the public contract).
 * - `authenticated`: any authenticated principal (reading schemas, bus info).
 * - `request`: the requirements follow from each request message.
 * - `response`: the requirements follow from the answer (an event read by id:
 *   its type is known only once it is found).
 */
import type {
  DeleteGroupRequest,
  DeleteSchemaVersionRequest,
  Event,
  Flow,
  FlowNode,
  GetGroupRequest,
  GroupInfo,
  ListDeadLettersRequest,
  ListGroupsResponse,
  PublishRequest,
  QueryEventsRequest,
  RegisterSchemaRequest,
  SetCompatibilityRequest,
  SubscribeRequest,
} from "@protobus/sdk/proto";
import { Permission } from "./permission.js";

/** One permission needed on one resource. */
export interface Requirement {
  readonly permission: Permission;
  readonly resource: string;
  /** For `publish`: the event's source, checked against pinned prefixes. */
  readonly source?: string;
}

/** How one RPC is authorized. */
export type RpcRule =
  | { readonly kind: "open" }
  | { readonly kind: "authenticated" }
  | {
      readonly kind: "request";
      /** The requirements of one request message. */
      readonly requires: (message: unknown) => readonly Requirement[];
      /** An admin action: audited whether allowed or not. */
      readonly audit?: (message: unknown) => { action: string; resource: string } | undefined;
    }
  | {
      readonly kind: "response";
      /** The requirements of the answer; unmet ones refuse it. */
      readonly requires: (response: unknown) => readonly Requirement[];
    }
  | {
      readonly kind: "filter";
      /** The part of the answer the caller may see. */
      readonly filter: (response: unknown, allowed: (requirement: Requirement) => boolean) => unknown;
    };

const groupSettingsSet = (s: NonNullable<Extract<SubscribeRequest["request"], { $case: "open" }>["open"]["groupSettings"]>): boolean =>
  s.ackDeadline !== undefined || s.maxDeliveries !== 0 || s.backoffMin !== undefined || s.backoffMax !== undefined;

function flowTypes(nodes: readonly FlowNode[], into: Set<string>): Set<string> {
  for (const node of nodes) {
    if (node.event !== undefined) into.add(node.event.type);
    flowTypes(node.children, into);
  }
  return into;
}

const deadLetterRule = (action: string): RpcRule => ({
  kind: "request",
  requires: (m) => [{ permission: Permission.groupDeadLetters, resource: (m as { group: string }).group }],
  ...(action === "" ? {} : { audit: (m: unknown) => ({ action, resource: `group/${(m as { group: string }).group}` }) }),
});

/** The rule of every served method, by `/package.Service/Method` path. */
export const RPC_RULES: Readonly<Record<string, RpcRule>> = {
  "/protobus.v1.EventBus/Publish": {
    kind: "request",
    requires: (m) => (m as PublishRequest).events.map((e) => ({ permission: Permission.publish, resource: e.type, source: e.source })),
  },
  "/protobus.v1.EventBus/PublishStream": {
    kind: "request",
    requires: (m) => (m as PublishRequest).events.map((e) => ({ permission: Permission.publish, resource: e.type, source: e.source })),
  },
  "/protobus.v1.EventBus/Subscribe": {
    kind: "request",
    requires: (m) => {
      const request = (m as SubscribeRequest).request;
      if (request?.$case !== "open") return [];
      const open = request.open;
      const needs: Requirement[] = open.patterns.map((p) => ({ permission: Permission.subscribe, resource: p }));
      if (open.group !== "") {
        needs.push({ permission: Permission.groupJoin, resource: open.group });
        if (open.groupSettings !== undefined && groupSettingsSet(open.groupSettings)) needs.push({ permission: Permission.groupSettings, resource: open.group });
      }
      return needs;
    },
    audit: (m) => {
      const request = (m as SubscribeRequest).request;
      if (request?.$case !== "open" || request.open.group === "" || request.open.groupSettings === undefined || !groupSettingsSet(request.open.groupSettings)) {
        return undefined;
      }
      return { action: "group.settings", resource: `group/${request.open.group}` };
    },
  },
  "/protobus.v1.EventBus/QueryEvents": {
    kind: "request",
    requires: (m) => {
      const patterns = (m as QueryEventsRequest).patterns;
      return (patterns.length === 0 ? [">"] : patterns).map((p) => ({ permission: Permission.subscribe, resource: p }));
    },
  },
  "/protobus.v1.EventBus/GetEvent": {
    kind: "response",
    requires: (r) => [{ permission: Permission.subscribe, resource: (r as Event).type }],
  },
  "/protobus.v1.EventBus/GetBusInfo": { kind: "authenticated" },
  "/protobus.v1.EventBus/GetFlow": {
    kind: "response",
    requires: (r) => [...flowTypes((r as Flow).roots, new Set())].sort().map((type) => ({ permission: Permission.subscribe, resource: type })),
  },
  "/protobus.v1.EventBus/ListGroups": {
    kind: "filter",
    filter: (r, allowed) => ({
      ...(r as ListGroupsResponse),
      groups: (r as ListGroupsResponse).groups.filter((g: GroupInfo) => allowed({ permission: Permission.groupView, resource: g.name })),
    }),
  },
  "/protobus.v1.EventBus/GetGroup": {
    kind: "request",
    requires: (m) => [{ permission: Permission.groupView, resource: (m as GetGroupRequest).name }],
  },
  "/protobus.v1.EventBus/DeleteGroup": {
    kind: "request",
    requires: (m) => [{ permission: Permission.groupDelete, resource: (m as DeleteGroupRequest).name }],
    audit: (m) => ({ action: "group.delete", resource: `group/${(m as DeleteGroupRequest).name}` }),
  },
  "/protobus.v1.EventBus/ListDeadLetters": {
    kind: "request",
    requires: (m) => [{ permission: Permission.groupDeadLetters, resource: (m as ListDeadLettersRequest).group }],
  },
  "/protobus.v1.EventBus/RedriveDeadLetters": deadLetterRule("dead-letters.redrive"),
  "/protobus.v1.EventBus/PurgeDeadLetters": deadLetterRule("dead-letters.purge"),
  "/protobus.v1.EventBus/GetDeliveryStats": {
    kind: "request",
    requires: () => [{ permission: Permission.busView, resource: "" }],
  },
  "/protobus.v1.SchemaRegistry/RegisterSchema": {
    kind: "request",
    requires: (m) => [{ permission: Permission.schemaWrite, resource: (m as RegisterSchemaRequest).schema?.subject ?? "" }],
    audit: (m) => ({ action: "schema.register", resource: `schema/${(m as RegisterSchemaRequest).schema?.subject ?? ""}` }),
  },
  "/protobus.v1.SchemaRegistry/GetSchema": { kind: "authenticated" },
  "/protobus.v1.SchemaRegistry/ListSchemas": { kind: "authenticated" },
  "/protobus.v1.SchemaRegistry/ListVersions": { kind: "authenticated" },
  "/protobus.v1.SchemaRegistry/CheckCompatibility": { kind: "authenticated" },
  "/protobus.v1.SchemaRegistry/GetCompatibility": { kind: "authenticated" },
  "/protobus.v1.SchemaRegistry/SetCompatibility": {
    kind: "request",
    requires: (m) => [{ permission: Permission.schemaCompatibility, resource: (m as SetCompatibilityRequest).subject }],
    audit: (m) => ({ action: "schema.compatibility", resource: `schema/${(m as SetCompatibilityRequest).subject || "(global)"}` }),
  },
  "/protobus.v1.SchemaRegistry/DeleteSchemaVersion": {
    kind: "request",
    requires: (m) => [{ permission: Permission.schemaDelete, resource: (m as DeleteSchemaVersionRequest).subject }],
    audit: (m) => {
      const r = m as DeleteSchemaVersionRequest;
      return { action: "schema.delete", resource: `schema/${r.subject}@${r.version}` };
    },
  },
};

/** Services whose methods need no credential. */
export const OPEN_SERVICES: readonly string[] = ["grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"];

/** The rule of a method path; undefined for a method nobody decided on (refuse it). */
export function ruleOf(path: string): RpcRule | undefined {
  const rule = RPC_RULES[path];
  if (rule !== undefined) return rule;
  const service = path.split("/")[1] ?? "";
  return OPEN_SERVICES.includes(service) ? { kind: "open" } : undefined;
}
