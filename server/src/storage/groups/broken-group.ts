/**
 * A stored consumer group this server cannot run: its row does not read,
 * or its patterns or filter do not compile under this server's rules (a
 * filter stored before a limit was introduced, or nested too deeply to
 * compile). Nothing a caller stored keeps the server from starting: such a
 * group is logged, listed with the reason (`GroupInfo.broken`), takes no
 * members, and can be deleted and created again.
 */
import { Code, ProtobusError } from "@protobus/sdk";
import { compilePatterns } from "@protobus/sdk/internal";
import { compileFilter } from "../../filter/filter-expression.js";
import type { GroupDefinition, GroupStats } from "../group-store.js";
import { zeroCounters, type GroupCounters } from "./group-persistence.js";

/** A group that did not load, and why. */
export interface BrokenGroup {
  readonly definition: GroupDefinition;
  readonly counters: GroupCounters;
  /** Why it cannot run, for people. */
  readonly reason: string;
}

/** The reason text of a load failure. */
export function loadFailure(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof RangeError && /call stack/i.test(message)) return "its filter is nested too deeply to compile";
  return message;
}

/**
 * Why a stored definition cannot run here, or undefined when it can: its
 * patterns and filter are compiled exactly as an open of a new group
 * compiles them.
 */
export function definitionProblem(definition: GroupDefinition): string | undefined {
  try {
    compilePatterns(definition.patterns);
    if (definition.filter !== "") compileFilter(definition.filter);
    return undefined;
  } catch (error) {
    return loadFailure(error);
  }
}

/** The error of using a broken group: FAILED_PRECONDITION with the way out. */
export function brokenGroupError(broken: BrokenGroup): ProtobusError {
  const name = broken.definition.name;
  return new ProtobusError(
    Code.FAILED_PRECONDITION,
    `consumer group '${name}' is stored but cannot run: ${broken.reason}; delete it (DeleteGroup, \`protobus groups delete ${name}\`) and open it again`,
    [{ type: "PreconditionFailure", value: { violations: [{ type: "GROUP_BROKEN", subject: name, description: broken.reason }] } }],
  );
}

/** The stats of a broken group: its stored counters, no members, nothing held. */
export function brokenStats(broken: BrokenGroup, deadLetters: number): GroupStats {
  return {
    definition: broken.definition,
    members: 0,
    backlog: 0,
    inFlight: 0,
    deadLetters,
    ...zeroCounters(),
    ...broken.counters,
    broken: broken.reason,
  };
}
