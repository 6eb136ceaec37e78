import { defineConfig } from "vitest/config";
import path from "node:path";

/**
 * Two tiers (README "Tests"):
 * - `fast` (`npm test`): pure units, PGlite, in-process fakes and injected clocks. Needs nothing
 *   installed: no app process, broker process, Chromium, RabbitMQ or Postgres server.
 * - `e2e` (`npm run test:e2e`): everything in test/e2e/: the app as a child process, real
 *   Mosquitto / RabbitMQ, Chromium, several instances, the real Postgres of DATABASE_URL.
 */
export default defineConfig({
  resolve: {
    alias: {
      "@": path.resolve(import.meta.dirname),
      // db/ modules import "server-only"; tests run them on the server side, as npm start does
      // (server/server-only-hooks.mjs), where it is the package's empty react-server build.
      "server-only": path.resolve(import.meta.dirname, "node_modules/server-only/empty.js"),
    },
  },
  test: {
    globalSetup: ["test/helpers/global-setup.ts"],
    // Browser assertions poll; on a busy 2-core machine a page can take seconds to re-render.
    expect: { poll: { timeout: 15_000, interval: 100 } },
    // Two workers suit the 2-core machine (end-to-end files start brokers and the app on free ports).
    maxWorkers: 2,
    fileParallelism: true,
    projects: [
      {
        extends: true,
        test: {
          name: "fast",
          include: ["test/**/*.test.ts"],
          exclude: ["test/e2e/**"],
          testTimeout: 60_000,
          hookTimeout: 240_000,
        },
      },
      {
        extends: true,
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          testTimeout: 60_000,
          // the first startApp of a worktree runs `next build`
          hookTimeout: 240_000,
        },
      },
    ],
  },
});
