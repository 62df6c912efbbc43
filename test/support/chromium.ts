/**
 * Real Chromium for end-to-end tests of the console: Debian's `chromium`
 * (apt-get install chromium), driven by playwright-core. Tests that need it
 * skip with a loud notice when it is absent, except in CI (CI=true), where
 * they fail. Every page opened through {@link openBrowser} may only reach
 * the console's own origin: any other request is blocked and recorded, so a
 * test can assert that the page works offline.
 */
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { REPO_ROOT } from "./test-server.js";

/** Where Chromium is looked for: CHROMIUM_BIN, else Debian's path. */
export const CHROMIUM_BIN = process.env.CHROMIUM_BIN ?? "/usr/bin/chromium";

/** Where tests write screenshots (not committed). */
export const ARTIFACTS_DIR = join(REPO_ROOT, "test-results");

let noticeShown = false;

/** True when Chromium can run; throws in CI when it cannot, prints a loud notice elsewhere. */
export function chromiumAvailable(): boolean {
  if (existsSync(CHROMIUM_BIN)) return true;
  if (process.env.CI === "true") throw new Error(`Chromium is not installed at ${CHROMIUM_BIN}, and CI=true: the console tests must run in CI (apt-get install chromium)`);
  if (!noticeShown) {
    noticeShown = true;
    console.warn(
      "\n" +
        "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n" +
        "!!! Chromium is not installed: every console browser test is SKIPPED.     !!!\n" +
        "!!! Install it (apt-get install chromium) or set CHROMIUM_BIN.              !!!\n" +
        "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n",
    );
  }
  return false;
}

/** A browser whose pages reach only one origin. */
export interface OfflineBrowser {
  readonly browser: Browser;
  readonly context: BrowserContext;
  readonly page: Page;
  /** Every request the pages tried to send elsewhere (all blocked). */
  readonly foreignRequests: string[];
  /** Saves a screenshot of the page under {@link ARTIFACTS_DIR}/console/ and returns its path. */
  screenshot(name: string): Promise<string>;
  close(): Promise<void>;
}

/** Starts headless Chromium with one page that may reach `origin` only. */
export async function openBrowser(origin: string): Promise<OfflineBrowser> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM_BIN,
    headless: true,
    // Root in a container has no user namespace for the sandbox.
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update"],
  });
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, serviceWorkers: "block" });
  const foreignRequests: string[] = [];
  const own = new URL(origin).origin;
  await context.route("**/*", async (route) => {
    const url = route.request().url();
    if (url.startsWith("data:") || new URL(url).origin === own) return route.continue();
    foreignRequests.push(url);
    return route.abort("blockedbyclient");
  });
  // Requests the router never sees (a WebSocket, a beacon) are recorded too.
  context.on("request", (request) => {
    const url = request.url();
    if (!url.startsWith("data:") && new URL(url).origin !== own && !foreignRequests.includes(url)) foreignRequests.push(url);
  });
  const page = await context.newPage();
  const dir = join(ARTIFACTS_DIR, "console");
  return {
    browser,
    context,
    page,
    foreignRequests,
    screenshot: async (name) => {
      mkdirSync(dir, { recursive: true });
      const path = join(dir, `${name}.png`);
      await page.screenshot({ path, fullPage: false });
      return path;
    },
    close: async () => {
      await context.close();
      await browser.close();
    },
  };
}
