import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";
import { CHROMIUM } from "./require";

/** Debian's chromium, driven by playwright-core, with the flags this sandboxed machine needs. */
export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM!,
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
  });
}

/** Sign in through the login form, as a person would; lands on `next` (default the overview). */
export async function signIn(
  page: Page,
  baseUrl: string,
  username: string,
  password: string,
  next = "/",
): Promise<void> {
  await page.goto(`${baseUrl}/login?next=${encodeURIComponent(next)}`);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(`${baseUrl}${next}`);
}

const SCREENSHOT_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "docs", "screenshots");

/**
 * Where a test saves its screenshot: the README's docs/screenshots when UPDATE_SCREENSHOTS=1
 * (`UPDATE_SCREENSHOTS=1 npm run test:e2e` refreshes them), else a temp dir, so a test run leaves the
 * working tree as it found it.
 */
export function screenshotPath(name: string): string {
  return process.env.UPDATE_SCREENSHOTS === "1"
    ? path.join(SCREENSHOT_DIR, name)
    : path.join(os.tmpdir(), `brokerwatch-${name}`);
}
