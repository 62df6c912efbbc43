/**
 * The rules every group store applies to a consumer group's definition when
 * the group is opened: what a new group is, whether a request names the
 * same group as the stored one, and which settings it changes.
 */
import { Code, ProtobusError } from "@protobus/sdk";
import { stripUndefined } from "../../strip-undefined.js";
import { DEFAULT_GROUP_SETTINGS, type GroupDefinition, type GroupSettings, type OpenGroupRequest } from "../group-store.js";

/** The definition of the group `request` creates at `createdAt`: its settings over the defaults. */
export function newGroupDefinition(request: OpenGroupRequest, createdAt: Date): GroupDefinition {
  return {
    name: request.name,
    patterns: [...request.patterns],
    filter: request.filter,
    settings: { ...DEFAULT_GROUP_SETTINGS, ...stripUndefined(request.settings) },
    createdAt,
  };
}

/** True when `requested` sets a field to a value other than the stored one. */
export function settingsChanged(stored: GroupSettings, requested: Partial<GroupSettings>): boolean {
  return (Object.keys(requested) as Array<keyof GroupSettings>).some((k) => requested[k] !== undefined && requested[k] !== stored[k]);
}

/** The stored settings with the fields `requested` sets. */
export function mergeSettings(stored: GroupSettings, requested: Partial<GroupSettings>): GroupSettings {
  return { ...stored, ...stripUndefined(requested) };
}

/** True when two pattern lists hold the same patterns, in any order. */
function sameList(a: readonly string[], b: readonly string[]): boolean {
  const x = [...a].sort();
  const y = [...b].sort();
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

/** True when an open request names other patterns or another filter than the stored group. */
export function definitionDiffers(definition: GroupDefinition, request: OpenGroupRequest): boolean {
  return !sameList(definition.patterns, request.patterns) || definition.filter !== request.filter;
}

/** The error of opening an existing group with other patterns or another filter. */
export function groupDefinitionConflict(definition: GroupDefinition): ProtobusError {
  return new ProtobusError(
    Code.FAILED_PRECONDITION,
    `consumer group '${definition.name}' exists with patterns [${definition.patterns.join(", ")}]` +
      `${definition.filter === "" ? "" : ` and filter '${definition.filter}'`}; open it with the same ones, or delete it first`,
    [{ type: "PreconditionFailure", value: { violations: [{ type: "GROUP", subject: definition.name, description: "patterns or filter differ" }] } }],
  );
}
