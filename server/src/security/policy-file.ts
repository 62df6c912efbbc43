/**
 * The policy file, watched: an edit counts within the watch interval (and at
 * once on SIGHUP) without a restart. A file that no longer parses is logged
 * and the policy in force stays; listeners hear of every new policy, so that
 * open subscriptions that lost their rights can be ended.
 */
import { readFileSync } from "node:fs";
import type { Logger } from "../logger.js";
import { watchFiles } from "./file-watch.js";
import { CompiledPolicy, parsePolicy } from "./policy.js";

/** Options of {@link PolicyFile}. */
export interface PolicyFileOptions {
  readonly path: string;
  /** How often the file is checked for changes, in ms; 0 turns watching off. */
  readonly watchIntervalMs: number;
  readonly logger: Logger;
}

/** A policy read from a YAML file and kept current. */
export class PolicyFile {
  readonly #options: PolicyFileOptions;
  #policy: CompiledPolicy;
  readonly #listeners = new Set<(policy: CompiledPolicy) => void>();
  readonly #stopWatching: () => void;

  /** Reads the file; throws a RangeError naming the problem when it is missing or invalid. */
  constructor(options: PolicyFileOptions) {
    this.#options = options;
    this.#policy = new CompiledPolicy(parsePolicy(readPolicyText(options.path), options.path));
    this.#stopWatching = options.watchIntervalMs > 0 ? watchFiles([options.path], options.watchIntervalMs, () => this.reload()) : () => {};
  }

  /** The policy in force. */
  get current(): CompiledPolicy {
    return this.#policy;
  }

  /** Calls `listener` with every newly loaded policy; returns a function that stops it. */
  onChange(listener: (policy: CompiledPolicy) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Reads the file again; on failure keeps the policy in force and logs why. Returns whether it loaded. */
  reload(): boolean {
    let next: CompiledPolicy;
    try {
      next = new CompiledPolicy(parsePolicy(readPolicyText(this.#options.path), this.#options.path));
    } catch (error) {
      this.#options.logger.error("policy not reloaded; the previous policy stays in force", { path: this.#options.path, error });
      return false;
    }
    this.#policy = next;
    this.#options.logger.info("policy loaded", { path: this.#options.path, grants: next.document.grants.length });
    for (const listener of this.#listeners) listener(next);
    return true;
  }

  close(): void {
    this.#stopWatching();
  }
}

function readPolicyText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new RangeError(`policy file ${path}: ${(error as Error).message}`, { cause: error });
  }
}
