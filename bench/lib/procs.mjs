// Child processes of the benchmark: each role (a server under test, a load
// generator) runs in its own Node.js process and is driven over IPC with
// request/response messages; nats-server runs as a plain child.
import { fork, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROLES_DIR = new URL("../roles/", import.meta.url);

/** Where roles write CPU profiles of measurement windows, if anywhere. */
export const forkSettings = { profileDir: undefined };

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** A fresh temporary directory and a function that removes it. */
export function tempDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), `protobus-bench-${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

const BUILD_REGISTER = new URL("./build-register.mjs", import.meta.url).href;

/**
 * Forks `bench/roles/<role>.mjs` and waits for its `ready` message.
 * `call(cmd, args)` sends a command and resolves with the role's answer.
 * With `build` (the folder of another build of protobus, see
 * other-build.mjs), the role and the roles it starts in turn import the
 * packages of that build; a role started by such a role inherits it.
 */
export async function startRole(role, options = {}, name = role, { build = process.env.PROTOBUS_BENCH_BUILD || undefined } = {}) {
  const execArgv = ["--enable-source-maps", ...(build !== undefined ? ["--import", BUILD_REGISTER] : [])];
  const env = { ...process.env };
  if (build !== undefined) env.PROTOBUS_BENCH_BUILD = build;
  const child = fork(new URL(`${role}.mjs`, ROLES_DIR), [], { execArgv, env, stdio: ["ignore", "ignore", "pipe", "ipc"] });
  let stderr = "";
  child.stderr.on("data", (chunk) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const pending = new Map();
  let nextId = 1;
  let exited = false;
  const exitedPromise = new Promise((resolve) => child.once("exit", resolve));
  child.once("exit", (code, signal) => {
    exited = true;
    for (const { reject } of pending.values()) reject(new Error(`${name} exited (${code ?? signal}): ${stderr.trim()}`));
    pending.clear();
  });
  const ready = new Promise((resolve, reject) => {
    child.once("exit", (code, signal) => reject(new Error(`${name} exited before it was ready (${code ?? signal}): ${stderr.trim()}`)));
    child.on("message", (message) => {
      if (message.type === "ready") resolve(message.info);
      else if (message.type === "reply") {
        const waiter = pending.get(message.id);
        pending.delete(message.id);
        if (message.error !== undefined) waiter?.reject(new Error(`${name}: ${message.error}`));
        else waiter?.resolve(message.result);
      }
    });
  });
  child.send({ type: "init", options });
  const info = await ready;
  return {
    name,
    pid: child.pid,
    info,
    call(cmd, args = {}) {
      if (exited) return Promise.reject(new Error(`${name} is not running`));
      return new Promise((resolve, reject) => {
        const id = nextId++;
        pending.set(id, { resolve, reject });
        child.send({ type: "call", id, cmd, args });
      });
    },
    /** Asks the role to exit cleanly, then kills it if it does not. */
    async stop() {
      if (exited) return;
      child.send({ type: "exit" });
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exitedPromise;
      clearTimeout(timer);
    },
  };
}

/**
 * Profiles a role over a measurement window only (not its start-up or idle
 * time), with the V8 sampling profiler of `node --cpu-prof`.
 */
function windowProfiler() {
  let session;
  return {
    async "profile-start"() {
      session = new Session();
      session.connect();
      await session.post("Profiler.enable");
      await session.post("Profiler.setSamplingInterval", { interval: 200 });
      await session.post("Profiler.start");
    },
    async "profile-stop"({ file }) {
      const { profile } = await session.post("Profiler.stop");
      session.disconnect();
      writeFileSync(file, JSON.stringify(profile));
    },
  };
}

/**
 * Runs a role's side of the protocol: `init` starts it (`setup(options)`
 * returns its info and its command handlers), `call` runs a command, `exit`
 * runs `close` and exits.
 */
export function serveRole(setup) {
  let handlers;
  let close = async () => undefined;
  process.on("message", (message) => {
    if (message.type === "init") {
      setup(message.options).then(
        (role) => {
          handlers = { ...windowProfiler(), ...role.commands };
          close = role.close ?? close;
          process.send({ type: "ready", info: role.info ?? {} });
        },
        (error) => {
          process.stderr.write(`${error?.stack ?? error}\n`);
          process.exit(1);
        },
      );
    } else if (message.type === "call") {
      const handler = handlers?.[message.cmd];
      Promise.resolve()
        .then(() => {
          if (handler === undefined) throw new Error(`unknown command ${message.cmd}`);
          return handler(message.args);
        })
        .then(
          (result) => process.send({ type: "reply", id: message.id, result }),
          (error) => process.send({ type: "reply", id: message.id, error: String(error?.stack ?? error) }),
        );
    } else if (message.type === "exit") {
      Promise.resolve()
        .then(() => close())
        .catch(() => undefined)
        .finally(() => process.exit(0));
    }
  });
  process.on("disconnect", () => process.exit(0));
}

function portOpen(port) {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/**
 * Starts `nats-server -js` on a free port with a temporary store directory.
 * Resolves to undefined when nats-server is not installed.
 */
export async function startNatsServer() {
  const port = await freePort();
  const store = tempDir("nats");
  const child = spawn("nats-server", ["-js", "-a", "127.0.0.1", "-p", String(port), "-sd", store.dir], { stdio: "ignore" });
  const failed = new Promise((resolve) => {
    child.once("error", () => resolve(true));
    child.once("exit", () => resolve(true));
  });
  for (let i = 0; i < 100; i++) {
    const done = await Promise.race([failed, new Promise((r) => setTimeout(() => r(false), 50))]);
    if (done) {
      store.remove();
      return undefined;
    }
    if (await portOpen(port)) {
      return {
        pid: child.pid,
        url: `nats://127.0.0.1:${port}`,
        async stop() {
          child.kill("SIGTERM");
          await failed;
          store.remove();
        },
      };
    }
  }
  child.kill("SIGKILL");
  store.remove();
  throw new Error("nats-server did not start listening within 5 s");
}
