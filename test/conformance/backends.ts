/**
 * The backends the conformance suites run against, unchanged. A backend
 * that needs an outside process (nats-server) starts it here.
 */
import type { StorageBackend } from "@protobus/server";
import { createJetStreamBackend, createMemoryBackend, createSqliteBackend } from "@protobus/server";
import { natsServerAvailable, startNatsServer, type NatsServer } from "../support/nats.js";
import { tempDir } from "../support/test-server.js";

/** A backend under test, opened fresh (or reopened on the same data) by `open`. */
export interface BackendHarness {
  readonly kind: string;
  /** True when `reopen` keeps the data (the backend is durable). */
  readonly durable: boolean;
  /**
   * True when the backend offers consumer groups; the group conformance
   * suite runs on it. A backend without them must refuse with UNIMPLEMENTED.
   */
  readonly groups: boolean;
  /** Opens a fresh, empty backend. */
  open(): Promise<OpenedBackend>;
}

export interface OpenedBackend {
  readonly backend: StorageBackend;
  /** Closes and opens the same data again (a restart). */
  reopen(): Promise<StorageBackend>;
  /** Closes and removes everything. */
  dispose(): Promise<void>;
}

// One nats-server per test file, started by the first JetStream backend
// opened; each backend gets its own stream and subject prefix on it.
let sharedNats: Promise<NatsServer> | undefined;
let jetstreamOpened = 0;

/**
 * Stops the shared nats-server and removes its store. Each conformance file
 * calls it after its tests: the test runner ends its workers without the
 * process `exit` event, so a server left running would outlive the run.
 */
export async function disposeSharedNats(): Promise<void> {
  const nats = sharedNats;
  sharedNats = undefined;
  if (nats !== undefined) await (await nats).dispose();
}

/** The JetStream harness: a real `nats-server -js` on a free port with a temporary store. */
const JETSTREAM: BackendHarness = {
  kind: "jetstream",
  durable: true,
  groups: true,
  async open() {
    sharedNats ??= startNatsServer();
    const nats = await sharedNats;
    jetstreamOpened += 1;
    const unique = `${process.pid}_${jetstreamOpened}`;
    const options = { servers: [nats.url], stream: `CONFORMANCE_${unique}`, subjectPrefix: `conf${unique}` };
    let backend = await createJetStreamBackend(options);
    return {
      get backend() {
        return backend;
      },
      async reopen() {
        await backend.close();
        backend = await createJetStreamBackend(options);
        return backend;
      },
      dispose: () => backend.close(),
    };
  },
};

export const BACKENDS: readonly BackendHarness[] = [
  {
    kind: "memory",
    durable: false,
    groups: true,
    async open() {
      let backend = createMemoryBackend();
      return {
        get backend() {
          return backend;
        },
        async reopen() {
          await backend.close();
          backend = createMemoryBackend();
          return backend;
        },
        dispose: () => backend.close(),
      };
    },
  },
  {
    kind: "sqlite",
    durable: true,
    groups: true,
    async open() {
      const dir = tempDir("protobus-conformance-");
      let backend = createSqliteBackend({ dataDir: dir.path });
      return {
        get backend() {
          return backend;
        },
        async reopen() {
          await backend.close();
          backend = createSqliteBackend({ dataDir: dir.path });
          return backend;
        },
        async dispose() {
          await backend.close();
          dir.dispose();
        },
      };
    },
  },
  ...(natsServerAvailable() ? [JETSTREAM] : []),
];
