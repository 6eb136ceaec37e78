import { defineConfig } from "vitest/config";
import path from "node:path";

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
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    // Browser assertions poll; on a busy 2-core machine a page can take seconds to re-render.
    expect: { poll: { timeout: 15_000, interval: 100 } },
    hookTimeout: 240_000,
    globalSetup: ["test/helpers/global-setup.ts"],
    // End-to-end files start brokers and the app on free ports; two workers suit the 2-core machine.
    maxWorkers: 2,
    fileParallelism: true,
  },
});
