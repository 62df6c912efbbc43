/**
 * Configuration precedence: flags > PROTOBUS_* environment > protobus.yaml >
 * defaults, with clear errors for bad values; and the store can be chosen by
 * configuration alone.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { createClient } from "@protobus/sdk";
import { DEFAULT_CONFIG, loadConfig } from "@protobus/server";
import { natsServerAvailable, startNatsServer } from "./support/nats.js";
import { spawnServer, tempDir } from "./support/test-server.js";

describe("configuration", () => {
  it("uses the defaults with nothing set: 127.0.0.1:50051, SQLite under ./.protobus", () => {
    const dir = tempDir();
    try {
      const config = loadConfig({ env: {}, cwd: dir.path });
      expect(config).toEqual({ ...DEFAULT_CONFIG, dataDir: join(dir.path, ".protobus") });
      expect(config.host).toBe("127.0.0.1");
      expect(config.port).toBe(50051);
      expect(config.store).toBe("sqlite");
    } finally {
      dir.dispose();
    }
  });

  it("lets flags beat the environment, the environment beat the file, the file beat defaults", () => {
    const dir = tempDir();
    try {
      writeFileSync(join(dir.path, "protobus.yaml"), "port: 7000\nstore: memory\nhost: 0.0.0.0\nmax-payload-bytes: 2048\ndedupe-window: 5m\n");
      const env = { PROTOBUS_PORT: "7001", PROTOBUS_STORE: "sqlite" };
      const config = loadConfig({ env, cwd: dir.path, flags: { port: "7002" } });
      expect(config.port).toBe(7002);
      expect(config.store).toBe("sqlite");
      expect(config.host).toBe("0.0.0.0");
      expect(config.maxPayloadBytes).toBe(2048);
      expect(config.dedupeWindowMs).toBe(300_000);
      expect(loadConfig({ env, cwd: dir.path }).port).toBe(7001);
      expect(loadConfig({ env: {}, cwd: dir.path }).port).toBe(7000);
    } finally {
      dir.dispose();
    }
  });

  it("names the source and the value of a bad setting", () => {
    const dir = tempDir();
    try {
      expect(() => loadConfig({ env: { PROTOBUS_PORT: "http" }, cwd: dir.path })).toThrow(/PROTOBUS_PORT: expected an integer.*'http'/);
      expect(() => loadConfig({ env: {}, cwd: dir.path, flags: { store: "postgres" } })).toThrow(/--store: expected one of sqlite, memory/);
      writeFileSync(join(dir.path, "protobus.yaml"), "prot: 1\n");
      expect(() => loadConfig({ env: {}, cwd: dir.path })).toThrow(/unknown setting 'prot'/);
      expect(() => loadConfig({ env: {}, cwd: dir.path, configFile: "missing.yaml" })).toThrow(/does not exist/);
    } finally {
      dir.dispose();
    }
  });

  it("picks the store by environment alone, and the memory store warns loudly", async () => {
    const dir = tempDir();
    try {
      const server = await spawnServer(["--data-dir", dir.path], { PROTOBUS_STORE: "memory" });
      const client = createClient({ address: server.address });
      const info = await client.info();
      expect(info.store).toBe("memory");
      expect(info.durable).toBe(false);
      expect(server.output()).toMatch(/WARN .*memory store keeps NOTHING/);
      await client.close();
      await server.stop();
    } finally {
      dir.dispose();
    }
  });

  it.runIf(natsServerAvailable())("picks the jetstream store by environment alone", async () => {
    const nats = await startNatsServer();
    const dir = tempDir();
    try {
      const server = await spawnServer(["--data-dir", dir.path], {
        PROTOBUS_STORE: "jetstream",
        PROTOBUS_NATS_URL: nats.url,
        PROTOBUS_JETSTREAM_STREAM: "BY_ENV",
      });
      const client = createClient({ address: server.address });
      const info = await client.info();
      expect(info).toMatchObject({ store: "jetstream", durable: true });
      const published = await client.publish({ type: "config.env.checked", data: { ok: true } });
      expect((await client.getEvent(published.id)).sequence).toBe(published.sequence);
      await client.close();
      await server.stop();
      // The events are in the stream the environment named, on that NATS server.
      const nc = await connect({ servers: nats.url });
      const stream = await (await jetstreamManager(nc)).streams.info("BY_ENV");
      expect(stream.state.messages).toBe(1);
      await nc.close();
    } finally {
      dir.dispose();
      await nats.dispose();
    }
  });

  it.runIf(natsServerAvailable())("picks the jetstream store, its replicas and retention from protobus.yaml via PROTOBUS_CONFIG", async () => {
    const nats = await startNatsServer();
    const dir = tempDir();
    try {
      const file = join(dir.path, "seed.yaml");
      writeFileSync(
        file,
        `store: jetstream\nnats-url: ${nats.url}\njetstream-stream: BY_FILE\njetstream-subject-prefix: seed\njetstream-replicas: 1\njetstream-max-age: 1h\n`,
      );
      const server = await spawnServer([], { PROTOBUS_CONFIG: file });
      const client = createClient({ address: server.address });
      expect((await client.info()).store).toBe("jetstream");
      await client.publish({ type: "config.file.checked", data: { ok: true } });
      await client.close();
      await server.stop();
      const nc = await connect({ servers: nats.url });
      const stream = await (await jetstreamManager(nc)).streams.info("BY_FILE");
      expect(stream.config).toMatchObject({ subjects: ["seed.ev.>"], num_replicas: 1, max_age: 3_600_000_000_000 });
      expect(stream.state.messages).toBe(1);
      await nc.close();
    } finally {
      dir.dispose();
      await nats.dispose();
    }
  });

  it("picks the store from protobus.yaml via PROTOBUS_CONFIG", async () => {
    const dir = tempDir();
    try {
      const file = join(dir.path, "custom.yaml");
      writeFileSync(file, `store: sqlite\ndata-dir: ${join(dir.path, "data")}\n`);
      const server = await spawnServer([], { PROTOBUS_CONFIG: file });
      const client = createClient({ address: server.address });
      expect((await client.info()).store).toBe("sqlite");
      expect(server.output()).toContain(join(dir.path, "data", "events.db"));
      await client.close();
      await server.stop();
    } finally {
      dir.dispose();
    }
  });
});
