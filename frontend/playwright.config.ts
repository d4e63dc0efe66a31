import { defineConfig } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";

// One free port for the whole run; workers re-read this file, so it is kept in the environment.
if (!process.env.E2E_PORT) {
  process.env.E2E_PORT = execFileSync("../.venv/bin/python", [
    "-c",
    "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])",
  ])
    .toString()
    .trim();
}
const port = process.env.E2E_PORT;
process.env.E2E_STATE ??= join(tmpdir(), `cudly-e2e-${port}.json`);
const baseURL = `http://127.0.0.1:${port}`;

export default defineConfig({
  testDir: "e2e",
  outputDir: "test-results/artifacts",
  fullyParallel: false,
  workers: 1,
  retries: 0,
  timeout: 45_000,
  expect: { timeout: 10_000 },
  reporter: [["list"]],
  use: {
    baseURL,
    viewport: { width: 1280, height: 800 },
    trace: "off",
    screenshot: "only-on-failure",
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
  projects: [
    { name: "first-run", testMatch: /first-run\.setup\.ts/ },
    // Runs on a database holding only its own accounts (the filter counts them), then the rest.
    { name: "pages", testMatch: /pages\.spec\.ts/, dependencies: ["first-run"] },
    { name: "chromium", testMatch: /(accounts|admin)\.spec\.ts/, dependencies: ["pages"] },
  ],
  webServer: {
    // No shell in between, so the SIGTERM below reaches the server itself.
    command: `.venv/bin/python -m tests.e2e.serve --port ${port} --state ${process.env.E2E_STATE}`,
    cwd: "..",
    url: `${baseURL}/api/health`,
    timeout: 120_000,
    reuseExistingServer: false,
    // SIGTERM, not a kill: the server then stops its embedded PostgreSQL on the way out.
    gracefulShutdown: { signal: "SIGTERM", timeout: 15_000 },
    stdout: "ignore",
    stderr: "pipe",
  },
});
