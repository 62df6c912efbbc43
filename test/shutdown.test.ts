/**
 * Graceful shutdown on SIGTERM/SIGINT: health turns NOT_SERVING, in-flight
 * publishes finish, open streams end with UNAVAILABLE, the store closes and
 * the process exits 0.
 */
import { describe, expect, it } from "vitest";
import { Code, createClient } from "@protobus/sdk";
import { spawnServer, tempDir } from "./support/test-server.js";

describe.each(["SIGTERM", "SIGINT"] as const)("shutdown on %s", (signal) => {
  it("ends streams with UNAVAILABLE, keeps acknowledged publishes and exits 0", async () => {
    const dir = tempDir();
    try {
      const server = await spawnServer(["--data-dir", dir.path]);
      const client = createClient({ address: server.address });
      // Without reconnecting, the subscription shows the status the server ended it with.
      const sub = client.subscribe(">", { reconnect: false });
      await sub.opened();
      const acked: string[] = [];
      let stop = false;
      const publishing = (async () => {
        while (!stop) {
          try {
            const r = await client.publish({ type: "shutdown.test.sent" });
            acked.push(r.id);
          } catch {
            return;
          }
        }
      })();
      while (acked.length < 20) await new Promise((r) => setTimeout(r, 10));
      const exit = server.stop(signal);
      const closeError = await sub.closed.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(closeError).toMatchObject({ code: Code.UNAVAILABLE });
      expect(await exit).toBe(0);
      stop = true;
      await publishing;
      expect(server.output()).toContain("stopped");
      await client.close();

      const again = await spawnServer(["--data-dir", dir.path]);
      const reader = createClient({ address: again.address });
      const stored = new Set<string>();
      for await (const e of reader.queryAll({ patterns: ["shutdown.>"], limit: 1000 })) stored.add(e.id);
      expect(acked.filter((id) => !stored.has(id))).toEqual([]);
      await reader.close();
      await again.stop();
    } finally {
      dir.dispose();
    }
  });
});
