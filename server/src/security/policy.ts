/**
 * The authorization policy: which principals and roles may do what on which
 * resources, and their limits. Nothing is allowed that no grant allows.
 *
 * ```yaml
 * grants:
 *   - principals: [planner]            # principal ids; "*" is every authenticated principal
 *     roles: [agents]                  # or roles the credential carries
 *     publish: [agent.task.*]          # event-type patterns
 *     subscribe: [agent.task.*, agent.tool.>]
 *     sources: [planner/]              # published `source` must start with one of these
 *     groups:                          # group-name globs (* is any run of characters)
 *       planner-*: [join, settings, delete, dead-letters]
 *     schemas:                         # subject patterns
 *       agent.task.>: [write, delete, compatibility]
 *     admin: [schemas, compatibility, dead-letters, groups, view]   # or [all]
 * limits:
 *   default: { events-per-second: 1000, burst: 2000 }
 *   principals:
 *     planner: { events-per-second: 50, subscriptions: 10 }
 * ```
 *
 * `{principal}` in a source prefix or group glob stands for the caller's id.
 */
import { parse as parseYaml } from "yaml";
import { patternCovers, patternError } from "@protobus/sdk/internal";
import { LIMIT_NAMES, type Limits } from "./limits.js";
import { ADMIN_RIGHTS, GROUP_RIGHTS, Permission, SCHEMA_RIGHTS, type AdminRight } from "./permission.js";
import type { Principal } from "../transport/interceptor.js";

/** One grant, as written. */
export interface Grant {
  readonly principals: readonly string[];
  readonly roles: readonly string[];
  readonly publish: readonly string[];
  readonly subscribe: readonly string[];
  readonly sources: readonly string[];
  readonly groups: Readonly<Record<string, readonly (keyof typeof GROUP_RIGHTS)[]>>;
  readonly schemas: Readonly<Record<string, readonly (keyof typeof SCHEMA_RIGHTS)[]>>;
  readonly admin: readonly AdminRight[];
}

/** A parsed policy. */
export interface PolicyDocument {
  readonly grants: readonly Grant[];
  readonly limits: {
    readonly default: Partial<Limits>;
    readonly principals: Readonly<Record<string, Partial<Limits>>>;
  };
}

/** The empty policy: nothing is allowed. */
export const EMPTY_POLICY: PolicyDocument = { grants: [], limits: { default: {}, principals: {} } };

const GRANT_KEYS = ["principals", "roles", "publish", "subscribe", "sources", "groups", "schemas", "admin"];

function fail(where: string, message: string): never {
  throw new RangeError(`${where}: ${message}`);
}

function mapping(value: unknown, where: string): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value)) fail(where, "expected a mapping");
  return value as Record<string, unknown>;
}

function names(value: unknown, where: string): string[] {
  if (value === undefined || value === null) return [];
  if (typeof value === "string") return [value];
  if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) fail(where, "expected a list of strings");
  return value as string[];
}

function patterns(value: unknown, where: string): string[] {
  const list = names(value, where);
  list.forEach((p, i) => {
    const error = patternError(p);
    if (error !== undefined) fail(`${where}[${i}]`, `'${p}' ${error}`);
  });
  return list;
}

function rights<K extends string>(value: unknown, known: Record<K, unknown>, where: string): K[] {
  const list = names(value, where);
  for (const right of list) if (!(right in known)) fail(where, `unknown right '${right}' (known: ${Object.keys(known).join(", ")})`);
  return list as K[];
}

function limits(value: unknown, where: string): Partial<Limits> {
  const raw = mapping(value, where);
  const byName = new Map(Object.entries(LIMIT_NAMES).map(([key, name]) => [name, key as keyof Limits]));
  const result: Partial<Record<keyof Limits, number>> = {};
  for (const [name, v] of Object.entries(raw)) {
    const key = byName.get(name);
    if (key === undefined) fail(where, `unknown limit '${name}' (known: ${[...byName.keys()].join(", ")})`);
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0) fail(`${where}.${name}`, "expected a number of 0 or more");
    result[key] = v;
  }
  return result;
}

/** Parses and checks a policy; throws a RangeError naming the first problem and where it is. */
export function parsePolicy(text: string, origin: string): PolicyDocument {
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (error) {
    fail(origin, `not YAML: ${(error as Error).message}`);
  }
  const top = mapping(parsed, origin);
  for (const key of Object.keys(top)) if (key !== "grants" && key !== "limits") fail(origin, `unknown key '${key}' (known: grants, limits)`);
  const rawGrants = top.grants ?? [];
  if (!Array.isArray(rawGrants)) fail(`${origin}: grants`, "expected a list");
  const grants = rawGrants.map((raw: unknown, i): Grant => {
    const where = `${origin}: grants[${i}]`;
    const g = mapping(raw, where);
    for (const key of Object.keys(g)) if (!GRANT_KEYS.includes(key)) fail(where, `unknown key '${key}' (known: ${GRANT_KEYS.join(", ")})`);
    const grant: Grant = {
      principals: names(g.principals, `${where}.principals`),
      roles: names(g.roles, `${where}.roles`),
      publish: patterns(g.publish, `${where}.publish`),
      subscribe: patterns(g.subscribe, `${where}.subscribe`),
      sources: names(g.sources, `${where}.sources`),
      groups: Object.fromEntries(Object.entries(mapping(g.groups, `${where}.groups`)).map(([glob, r]) => [glob, rights(r, GROUP_RIGHTS, `${where}.groups.${glob}`)])),
      schemas: Object.fromEntries(
        Object.entries(mapping(g.schemas, `${where}.schemas`)).map(([pattern, r]) => {
          const error = patternError(pattern);
          if (error !== undefined) fail(`${where}.schemas`, `'${pattern}' ${error}`);
          return [pattern, rights(r, SCHEMA_RIGHTS, `${where}.schemas.${pattern}`)];
        }),
      ),
      admin: rights(g.admin, ADMIN_RIGHTS, `${where}.admin`),
    };
    if (grant.principals.length === 0 && grant.roles.length === 0) fail(where, "names no principals and no roles; use principals: ['*'] for everyone authenticated");
    return grant;
  });
  const rawLimits = mapping(top.limits, `${origin}: limits`);
  for (const key of Object.keys(rawLimits)) if (key !== "default" && key !== "principals") fail(`${origin}: limits`, `unknown key '${key}' (known: default, principals)`);
  return {
    grants,
    limits: {
      default: limits(rawLimits.default, `${origin}: limits.default`),
      principals: Object.fromEntries(
        Object.entries(mapping(rawLimits.principals, `${origin}: limits.principals`)).map(([id, l]) => [id, limits(l, `${origin}: limits.principals.${id}`)]),
      ),
    },
  };
}

/** Matches a resource of one permission. */
type ResourceMatcher = (resource: string) => boolean;

const ANY: ResourceMatcher = () => true;

function globMatcher(glob: string): ResourceMatcher {
  const regex = new RegExp(`^${glob.split("*").map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`);
  return (name) => regex.test(name);
}

function coverMatcher(grant: string): ResourceMatcher {
  // Schema subjects and patterns: '' (global) and '_base' are never covered by a pattern.
  return (resource) => resource !== "" && !resource.startsWith("_") && patternCovers(grant, resource);
}

/** One grant, as it applies to one principal. */
interface AppliedGrant {
  readonly publish: readonly ResourceMatcher[];
  readonly sources: readonly string[];
}

/** What one principal may do, compiled from the grants that name it or its roles. */
export class Access {
  /** The principal. */
  readonly principal: Principal;
  readonly #matchers = new Map<string, ResourceMatcher[]>();
  readonly #publish: AppliedGrant[] = [];
  readonly #answers = new Map<string, boolean>();
  /** Per published type: the source prefixes of the grants allowing it (empty list: any source). */
  readonly #pins = new Map<string, readonly string[] | undefined>();

  constructor(principal: Principal, grants: readonly Grant[]) {
    this.principal = principal;
    const sub = (s: string): string => s.replaceAll("{principal}", principal.id);
    for (const grant of grants) {
      const applies = grant.principals.includes("*") || grant.principals.includes(principal.id) || grant.roles.some((r) => principal.roles.includes(r));
      if (!applies) continue;
      if (grant.publish.length > 0) this.#publish.push({ publish: grant.publish.map(coverMatcher), sources: grant.sources.map(sub) });
      this.#add(Permission.subscribe, grant.subscribe.map(coverMatcher));
      for (const [glob, list] of Object.entries(grant.groups)) {
        for (const right of list) for (const permission of GROUP_RIGHTS[right]) this.#add(permission, [globMatcher(sub(glob))]);
      }
      for (const [pattern, list] of Object.entries(grant.schemas)) {
        for (const right of list) for (const permission of SCHEMA_RIGHTS[right]) this.#add(permission, [coverMatcher(pattern)]);
      }
      for (const right of grant.admin) for (const permission of ADMIN_RIGHTS[right]) this.#add(permission, [ANY]);
    }
  }

  #add(permission: string, matchers: readonly ResourceMatcher[]): void {
    if (matchers.length === 0) return;
    const list = this.#matchers.get(permission) ?? [];
    list.push(...matchers);
    this.#matchers.set(permission, list);
  }

  /** Tells whether the permission is granted on the resource. */
  allows(permission: Permission, resource: string): boolean {
    // Publishing checks every event: remember answers (types are a small vocabulary; bounded anyway).
    const key = `${permission}\u0000${resource}`;
    let allowed = this.#answers.get(key);
    if (allowed === undefined) {
      allowed =
        permission === Permission.publish
          ? this.#publish.some((g) => g.publish.some((m) => m(resource)))
          : (this.#matchers.get(permission)?.some((m) => m(resource)) ?? false);
      if (this.#answers.size >= 10_000) this.#answers.clear();
      this.#answers.set(key, allowed);
    }
    return allowed;
  }

  /**
   * Tells whether an event of `type` may be published with `source`: some
   * grant allows the type and either pins no sources or has a prefix of it.
   * Returns the source prefixes the type is pinned to when none matches.
   */
  allowsSource(type: string, source: string): true | readonly string[] {
    let pins = this.#pins.get(type);
    if (!this.#pins.has(type)) {
      const grants = this.#publish.filter((g) => g.publish.some((m) => m(type)));
      pins = grants.some((g) => g.sources.length === 0) ? undefined : grants.flatMap((g) => g.sources);
      if (this.#pins.size >= 10_000) this.#pins.clear();
      this.#pins.set(type, pins);
    }
    if (pins === undefined || pins.some((p) => source.startsWith(p))) return true;
    return pins;
  }
}

/** A policy ready to answer: access per principal (cached), limits per principal. */
export class CompiledPolicy {
  readonly document: PolicyDocument;
  readonly #cache = new Map<string, Access>();

  constructor(document: PolicyDocument) {
    this.document = document;
  }

  /** What `principal` may do. */
  accessOf(principal: Principal): Access {
    const key = `${principal.via}\u0000${principal.id}\u0000${principal.roles.join("\u0000")}`;
    let access = this.#cache.get(key);
    if (access === undefined) {
      access = new Access(principal, this.document.grants);
      // Principals are few; the bound keeps a flood of distinct JWT subjects from growing it forever.
      if (this.#cache.size >= 10_000) this.#cache.clear();
      this.#cache.set(key, access);
    }
    return access;
  }

  /** The limits the policy sets for `principal`, over `defaults`. */
  limitsOf(principalId: string, defaults: Limits): Limits {
    return { ...defaults, ...this.document.limits.default, ...this.document.limits.principals[principalId] };
  }
}
