import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    exclude: ["test/deno/**", "node_modules/**"],
    setupFiles: ["test/setup/secret-scan.ts"],
    testTimeout: 15_000,
    hookTimeout: 120_000,
  },
});
