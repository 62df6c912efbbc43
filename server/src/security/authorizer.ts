/**
 * Decides whether a principal's request is allowed under the policy in
 * force: every requirement of the request must be granted, or the request
 * is refused with PERMISSION_DENIED naming the first missing permission and
 * its resource. With no policy file, nothing is granted (deny by default).
 */
import type { ProtobusError } from "@protobus/sdk";
import { Permission } from "./permission.js";
import { CompiledPolicy, EMPTY_POLICY, type Access } from "./policy.js";
import type { PolicyFile } from "./policy-file.js";
import type { Principal } from "../transport/interceptor.js";
import type { Requirement } from "./rpc-rules.js";
import { permissionDenied } from "./security-errors.js";

const EMPTY = new CompiledPolicy(EMPTY_POLICY);

/** The policy decision point. */
export class Authorizer {
  readonly #file: PolicyFile | undefined;

  /** Decides under the policy of `file` (always its current one); without one, denies everything. */
  constructor(file?: PolicyFile) {
    this.#file = file;
  }

  /** The policy in force. */
  get policy(): CompiledPolicy {
    return this.#file?.current ?? EMPTY;
  }

  /** What `principal` may do now. */
  accessOf(principal: Principal): Access {
    return this.policy.accessOf(principal);
  }

  /** The refusal of the first requirement `principal` lacks, or undefined when all are granted. */
  check(principal: Principal, requirements: readonly Requirement[]): ProtobusError | undefined {
    return checkAccess(this.accessOf(principal), requirements);
  }

  /** Calls `listener` when the policy changes. */
  onChange(listener: () => void): () => void {
    return this.#file?.onChange(listener) ?? (() => {});
  }
}

/** The refusal of the first requirement `access` lacks, or undefined. */
export function checkAccess(access: Access, requirements: readonly Requirement[]): ProtobusError | undefined {
  const id = access.principal.id;
  for (const requirement of requirements) {
    if (!access.allows(requirement.permission, requirement.resource)) return permissionDenied(id, requirement.permission, requirement.resource);
    if (requirement.permission === Permission.publish && requirement.source !== undefined) {
      const pinned = access.allowsSource(requirement.resource, requirement.source);
      if (pinned !== true) {
        return permissionDenied(id, "publish.source", `${requirement.resource} from source '${requirement.source}' (granted prefixes: ${pinned.join(", ")})`);
      }
    }
  }
  return undefined;
}
