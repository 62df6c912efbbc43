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
  },
});
