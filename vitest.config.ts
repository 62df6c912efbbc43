import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests start servers and child processes; two workers suit
    // a 2-core machine.
    pool: "forks",
    maxWorkers: 2,
    reporters: ["default"],
    // The workspace packages are tested as built (dist/, what npm ships), so
    // Node loads them as it would for a user; through Vite's module runner
    // each test file spent ~2 s more transforming and importing them.
    server: { deps: { external: [/\/(server|sdk|console)\/dist\//] } },
  },
});
