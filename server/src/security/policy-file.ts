/**
 * The policy file, watched: an edit counts within the watch interval (and at
 * once on SIGHUP) without a restart. A file that no longer parses is logged
 * and the policy in force stays; listeners hear of every new policy, so that
 * open subscriptions that lost their rights can be ended.
 */
import { readFileSync } from "node:fs";
import type { Logger } from "../logger.js";
import { FileBackedValue } from "./file-backed-value.js";
import { CompiledPolicy, parsePolicy } from "./policy.js";

/** Options of {@link PolicyFile}. */
export interface PolicyFileOptions {
  readonly path: string;
  /** How often the file is checked for changes, in ms; 0 turns watching off. */
  readonly watchIntervalMs: number;
  readonly logger: Logger;
}

/**
 * A policy read from a YAML file and kept current: `current` is the policy
 * in force, `onChange` hears of every newly loaded one, `reload()` reads the
 * file again (on failure the policy in force stays and the reason is logged).
 */
export class PolicyFile extends FileBackedValue<CompiledPolicy> {
  /** Reads the file; throws a RangeError naming the problem when it is missing or invalid. */
  constructor(options: PolicyFileOptions) {
    const { path } = options;
    super({
      paths: [path],
      watchIntervalMs: options.watchIntervalMs,
      logger: options.logger,
      read: () => new CompiledPolicy(parsePolicy(readPolicyText(path), path)),
      failedMessage: "policy not reloaded; the previous policy stays in force",
      loadedMessage: "policy loaded",
      logFields: { path },
      loadedFields: (policy) => ({ grants: policy.document.grants.length }),
    });
  }
}

function readPolicyText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new RangeError(`policy file ${path}: ${(error as Error).message}`, { cause: error });
  }
}
