/**
 * Real nats-server processes for tests: one JetStream server, or a cluster
 * with routes, each on free loopback ports with a temporary store directory,
 * with kill -9 and restart. When nats-server is not installed, tests that
 * need it skip with a loud notice, except in CI (CI=true), where they fail.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { rmSync } from "node:fs";
import { freePort } from "./free-port.js";
import { tempDir } from "./test-server.js";

function findNatsServer(): string | undefined {
  const fromEnv = process.env.NATS_SERVER_BIN;
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv;
  const found = spawnSync("sh", ["-c", "command -v nats-server || ls /usr/sbin/nats-server 2>/dev/null"], { encoding: "utf8" });
  const path = found.stdout.trim().split("\n")[0];
  return path !== undefined && path !== "" ? path : undefined;
}

/** Path of the nats-server binary, or undefined when it is not installed. */
export const NATS_SERVER_BIN = findNatsServer();

let noticeShown = false;

/**
 * True when nats-server can run. Otherwise: throws in CI (CI=true), so the
 * suite fails; elsewhere prints a loud notice once and returns false, so the
 * caller skips.
 */
export function natsServerAvailable(): boolean {
  if (NATS_SERVER_BIN !== undefined) return true;
  if (process.env.CI === "true") {
    throw new Error("nats-server is not installed, and CI=true: the JetStream tests must run in CI (apt-get install nats-server)");
  }
  if (!noticeShown) {
    noticeShown = true;
    console.warn(
      "\n" +
        "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n" +
        "!!! nats-server is not installed: every JetStream test is SKIPPED.          !!!\n" +
        "!!! Install it (apt-get install nats-server) or set NATS_SERVER_BIN.         !!!\n" +
        "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n",
    );
  }
  return false;
}

/** A running (or killed) nats-server. */
export interface NatsServer {
  /** `nats://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** True while the process runs. */
  readonly running: boolean;
  /** Kills the process with SIGKILL (no shutdown, no flush) and waits for it to exit. */
  kill(): Promise<void>;
  /** Starts the process again with the same ports and store directory. */
  restart(): Promise<void>;
  /** Stops it and removes its store directory. */
  dispose(): Promise<void>;
}

interface NodeSpec {
  readonly name: string;
  readonly port: number;
  readonly monitorPort: number;
  readonly storeDir: string;
  readonly cluster?: { readonly name: string; readonly port: number; readonly routes: readonly number[] };
}

const running = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

function argsOf(spec: NodeSpec): string[] {
  const args = ["-js", "-a", "127.0.0.1", "-p", String(spec.port), "-m", String(spec.monitorPort), "-sd", spec.storeDir, "-n", spec.name];
  if (spec.cluster !== undefined) {
    args.push(
      "--cluster_name",
      spec.cluster.name,
      "--cluster",
      `nats://127.0.0.1:${spec.cluster.port}`,
      "--routes",
      spec.cluster.routes.map((port) => `nats://127.0.0.1:${port}`).join(","),
    );
  }
  return args;
}

async function launch(spec: NodeSpec): Promise<ChildProcess> {
  const child = spawn(NATS_SERVER_BIN as string, argsOf(spec), { stdio: ["ignore", "ignore", "pipe"] });
  running.add(child);
  child.once("exit", () => running.delete(child));
  let log = "";
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`nats-server ${spec.name} did not start:\n${log}`)), 15_000);
    child.stderr?.on("data", (chunk: Buffer) => {
      if (log.length < 20_000) log += chunk.toString();
      if (log.includes("Server is ready")) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`nats-server ${spec.name} exited with ${code}:\n${log}`));
    });
  });
  // Keep draining stderr so the child never blocks on a full pipe.
  child.stderr?.resume();
  return child;
}

function serverOf(spec: NodeSpec, first: ChildProcess): NatsServer {
  let child: ChildProcess | undefined = first;
  return {
    url: `nats://127.0.0.1:${spec.port}`,
    port: spec.port,
    get running() {
      return child !== undefined;
    },
    async kill() {
      const target = child;
      child = undefined;
      if (target === undefined || target.exitCode !== null) return;
      await new Promise<void>((resolve) => {
        target.once("exit", () => resolve());
        target.kill("SIGKILL");
      });
    },
    async restart() {
      if (child !== undefined) throw new Error(`nats-server ${spec.name} is running`);
      child = await launch(spec);
    },
    async dispose() {
      await this.kill();
      rmSync(spec.storeDir, { recursive: true, force: true });
    },
  };
}

/** Starts one nats-server with JetStream on free ports and a temporary store. */
export async function startNatsServer(): Promise<NatsServer> {
  const spec: NodeSpec = { name: "n1", port: await freePort(), monitorPort: await freePort(), storeDir: tempDir("protobus-nats-").path };
  return serverOf(spec, await launch(spec));
}

/** A JetStream cluster of nats-servers connected by routes. */
export interface NatsCluster {
  readonly nodes: readonly NatsServer[];
  /** Every node's client URL. */
  readonly urls: readonly string[];
  /** Resolves once every running node reports JetStream healthy. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  dispose(): Promise<void>;
}

/** Starts a cluster of `size` nodes on free loopback ports and waits until it has a JetStream leader. */
export async function startNatsCluster(size = 3): Promise<NatsCluster> {
  const clusterPorts = await Promise.all(Array.from({ length: size }, () => freePort()));
  const specs: NodeSpec[] = [];
  for (let i = 0; i < size; i++) {
    specs.push({
      name: `n${i + 1}`,
      port: await freePort(),
      monitorPort: await freePort(),
      storeDir: tempDir(`protobus-nats-n${i + 1}-`).path,
      cluster: { name: "protobus-test", port: clusterPorts[i] as number, routes: clusterPorts.filter((_, j) => j !== i) },
    });
  }
  const nodes = await Promise.all(specs.map(async (spec) => serverOf(spec, await launch(spec))));
  const waitHealthy = async (timeoutMs = 30_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    for (let i = 0; i < size; i++) {
      if (!(nodes[i] as NatsServer).running) continue;
      const url = `http://127.0.0.1:${(specs[i] as NodeSpec).monitorPort}/healthz`;
      for (;;) {
        const ok = await fetch(url)
          .then((response) => response.ok)
          .catch(() => false);
        if (ok) break;
        if (Date.now() > deadline) throw new Error(`nats-server ${(specs[i] as NodeSpec).name} not healthy after ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  };
  await waitHealthy();
  return {
    nodes,
    urls: nodes.map((node) => node.url),
    waitHealthy,
    async dispose() {
      await Promise.all(nodes.map((node) => node.dispose()));
    },
  };
}
