/**
 * The backend registry: each backend declares its own settings, keys and
 * defaults in its descriptor, and the server's configuration is assembled
 * from them (every key documented, settable from each source, no name
 * taken twice); createBackend builds the backend a configuration names,
 * with its defaults for settings not given.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CONFIG_KEYS, DEFAULT_CONFIG, loadConfig } from "../../server/src/config.js";
import { BACKENDS, STORE_KINDS, createBackend } from "../../server/src/storage/create-backend.js";
import { tempDir } from "../support/test-server.js";

describe("backend registry", () => {
  it("offers every backend by name, sqlite first (the default)", () => {
    expect(STORE_KINDS).toEqual(BACKENDS.map((b) => b.name));
    expect(STORE_KINDS[0]).toBe(DEFAULT_CONFIG.store);
    expect(new Set(STORE_KINDS).size).toBe(STORE_KINDS.length);
    for (const store of STORE_KINDS) expect(loadConfig({ env: { PROTOBUS_STORE: store } }).store).toBe(store);
  });

  it("puts each backend's keys, with their defaults, into the server's configuration", () => {
    const keys = new Map(CONFIG_KEYS.map((k) => [k.key, k]));
    for (const backend of BACKENDS) {
      for (const spec of backend.configKeys) {
        expect(keys.get(spec.key), `${backend.name}: ${spec.key}`).toBe(spec);
        expect(spec.env).toBe(`PROTOBUS_${spec.yaml.toUpperCase().replaceAll("-", "_")}`);
        expect(spec.description, spec.key).not.toBe("");
      }
      for (const [key, value] of Object.entries(backend.defaults)) expect(DEFAULT_CONFIG[key as keyof typeof DEFAULT_CONFIG], key).toEqual(value);
      expect(Object.keys(backend.defaults).sort()).toEqual(backend.configKeys.map((k) => k.key).sort());
    }
  });

  it("takes no configuration name twice", () => {
    for (const field of ["key", "yaml", "env"] as const) {
      const names = CONFIG_KEYS.map((k) => k[field]);
      expect(names.filter((name, i) => names.indexOf(name) !== i), field).toEqual([]);
    }
  });

  it("reads a backend's keys from each source, parsed by the backend's own rules", () => {
    const config = loadConfig({ env: { PROTOBUS_JETSTREAM_REPLICAS: "3" }, flags: { "sqlite-synchronous": "full" } });
    expect(config.jetstreamReplicas).toBe(3);
    expect(config.sqliteSynchronous).toBe("full");
    expect(() => loadConfig({ env: { PROTOBUS_JETSTREAM_REPLICAS: "9" } })).toThrow(/PROTOBUS_JETSTREAM_REPLICAS: expected an integer from 1 to 5/);
    expect(() => loadConfig({ env: { PROTOBUS_NATS_URL: "http://x" } })).toThrow(/PROTOBUS_NATS_URL: expected NATS URLs/);
    const dir = tempDir();
    try {
      expect(loadConfig({ env: { PROTOBUS_DATA_DIR: "store" }, cwd: dir.path }).dataDir).toBe(join(dir.path, "store"));
    } finally {
      dir.dispose();
    }
  });

  it("creates the backend a configuration names, its defaults filling what is not given", async () => {
    const dir = tempDir();
    try {
      const sqlite = await createBackend({ store: "sqlite", dataDir: dir.path });
      await sqlite.close();
      expect(existsSync(join(dir.path, "events.db"))).toBe(true);
      const memory = await createBackend({ store: "memory" });
      await memory.close();
      await expect(createBackend({ store: "nope" as "memory" })).rejects.toThrow(/unknown store 'nope' \(known: sqlite, memory, jetstream\)/);
    } finally {
      dir.dispose();
    }
  });
});
