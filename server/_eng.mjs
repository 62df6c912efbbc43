import { createSqliteBackend } from "@protobus/server";
import { Event } from "@protobus/sdk/proto";
import { mkdtempSync, rmSync } from "node:fs";
import { existsSync, mkdirSync } from "node:fs";
const dir = "/tmp/probe/engdb"; const fresh = !existsSync(dir); mkdirSync(dir, { recursive: true });
const store = createSqliteBackend({ dataDir: dir });
const N = 200_000;
const data = Buffer.alloc(128, 97);
for (let i = 0; fresh && i < N; i += 1000) {
  await store.append(Array.from({ length: 1000 }, (_, j) => Event.fromPartial({ id: `e-${i + j}`, source: "bench/loadgen", type: "bench.event.created", specVersion: "1.0", priority: 4, data, publishTime: new Date() })), { dedupeWindowMs: 0 });
}
const run = async (name) => {
  const group = await store.groups.open({ name: name + Math.random().toString(36).slice(2), patterns: ["bench.>"], filter: "", settings: {}, startAfter: 0n });
  group.join("m");
  let n = 0;
  const t = process.cpuUsage(); const w = Date.now();
  while (n < N) {
    const d = await group.claim("m", 1000);
    if (d.length === 0) break;
    n += d.length;
    await group.ack(d.map((x) => x.deliveryId));
  }
  const u = process.cpuUsage(t);
  console.log(name, n, ((u.user + u.system) / n).toFixed(2), "µs CPU/event", ((Date.now() - w) * 1000 / n).toFixed(2), "µs wall/event");
};
const prof = process.argv[2] === "prof";
await run("g1"); await run("g2"); await run("g3");
await store.close();
