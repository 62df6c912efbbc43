/**
 * Real servers for tests: an in-process protobus server on a free loopback
 * port over a real store (SQLite in a temporary directory, or memory), and a
 * `protobus serve` child process that tests can kill -9 and restart.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createClient, type ProtobusClient } from "@protobus/sdk";
import { startServer, type ProtobusServer, type StartServerOptions } from "@protobus/server";
import { freePort } from "./free-port.js";

export const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const CLI = join(REPO_ROOT, "server/bin/protobus.js");

/** A temporary directory removed by `dispose`. */
export function tempDir(prefix = "protobus-test-"): { path: string; dispose(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, dispose: () => rmSync(path, { recursive: true, force: true }) };
}

/** A running in-process server with a client connected to it. */
export interface TestServer {
  readonly server: ProtobusServer;
  readonly client: ProtobusClient;
  readonly address: string;
  readonly dataDir: string;
  /** Stops the server, closes the client and removes the data directory. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Starts a server on a free loopback port; SQLite in a fresh temp dir unless told otherwise. */
export async function startTestServer(options: StartServerOptions = {}): Promise<TestServer> {
  const dir = options.dataDir === undefined ? tempDir() : undefined;
  const server = await startServer({
    host: "127.0.0.1",
    port: 0,
    store: "sqlite",
    logLevel: "error",
    shutdownGraceMs: 2_000,
    ...options,
    dataDir: options.dataDir ?? dir?.path ?? "",
  });
  const client = createClient({ address: server.address, source: "test" });
  const close = async (): Promise<void> => {
    await client.close();
    await server.shutdown();
    dir?.dispose();
  };
  return {
    server,
    client,
    address: server.address,
    dataDir: options.dataDir ?? dir?.path ?? "",
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** A `protobus serve` child process. */
export interface ServerProcess {
  readonly process: ChildProcess;
  readonly address: string;
  readonly port: number;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  /** Sends a signal and waits for the exit; resolves to the exit code or signal. */
  stop(signal?: NodeJS.Signals): Promise<number | NodeJS.Signals | null>;
}

/**
 * Spawns `protobus serve` with the given flags and waits until it accepts
 * connections; on a free port unless `port` is given (a restart on the same
 * address).
 */
export async function spawnServer(args: readonly string[], env: Record<string, string> = {}, port?: number): Promise<ServerProcess> {
  port ??= await freePort();
  const child = spawn(process.execPath, [CLI, "serve", "--host", "127.0.0.1", "--port", String(port), ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | NodeJS.Signals | null>((resolve) =>
    child.once("exit", (code, signal) => resolve(signal ?? code)),
  );
  const address = `127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`protobus serve exited early:\n${output}`);
    }
    if (output.includes("protobus listening")) break;
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`protobus serve did not start within 20 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    process: child,
    address,
    port,
    output: () => output,
    stop: async (signal = "SIGTERM") => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Polls `check` until it returns true or the timeout passes; `what` (or what it returns at the timeout) names the condition in the error. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  what: string | (() => string) = "condition",
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === "string" ? what : what()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export { createClient, freePort };
