/** The memory backend as the registry offers it: no settings of its own. */
import type { BackendDescriptor } from "../backend-descriptor.js";
import { pickGroupMemory } from "../groups/engine-group-store.js";

/** The memory backend keeps nothing and has no settings. */
export type MemorySettings = Record<never, never>;

/** `--store memory`. */
export const memoryDescriptor: BackendDescriptor<"memory", MemorySettings> = {
  name: "memory",
  configKeys: [],
  defaults: {},
  create: async (settings) => (await import("./index.js")).createMemoryBackend(pickGroupMemory(settings)),
};
