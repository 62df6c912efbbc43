/**
 * A {@link GroupStore} for a backend that does not offer consumer groups
 * yet: every operation fails with UNIMPLEMENTED naming the backend, so a
 * client that asks for a group learns at once that it must use another
 * store (or subscribe without a group).
 */
import { Code, ProtobusError } from "@protobus/sdk";
import type { GroupStore } from "../group-store.js";

/** A group store whose every operation is refused with UNIMPLEMENTED. */
export function unsupportedGroupStore(kind: string): GroupStore {
  const refuse = (): Promise<never> =>
    Promise.reject(
      new ProtobusError(Code.UNIMPLEMENTED, `consumer groups are not available on the ${kind} store yet; use the sqlite or memory store`),
    );
  return {
    open: refuse,
    list: async () => [],
    get: async () => undefined,
    delete: async () => false,
    listDeadLetters: refuse,
    redrive: refuse,
    purge: refuse,
  };
}
