/**
 * Real headless Chromium for the web tests (playwright-core driving Debian's
 * /usr/bin/chromium), and screenshots kept when a browser test fails: they
 * go to `$CHAT_TEST_ARTIFACTS` (default `test-artifacts/`), one PNG per page
 * open at the failure, named after the test, so a red CI run shows what the
 * page looked like.
 */
import { type BrowserContext, chromium, type Page } from "playwright-core";
import type { ServerProcess } from "./server_process.ts";

/** Where Debian's package puts Chromium. */
export const CHROMIUM = "/usr/bin/chromium";

/** Chromium with a fresh profile directory, closed and removed on dispose. */
export async function launchBrowser(): Promise<BrowserContext & AsyncDisposable> {
  const profile = await Deno.makeTempDir({ prefix: "chat-chromium-" });
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
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
  return Object.assign(context, {
    [Symbol.asyncDispose]: async () => {
      await context.close();
      await Deno.remove(profile, { recursive: true });
    },
  });
}

/** The HTTP port a `chat serve --http 127.0.0.1:0` subprocess printed it listens on. */
export async function httpPort(server: ServerProcess): Promise<number> {
  for (let i = 0; i < 1000; i++) {
    const match = /serving HTTP on [^\s]*:(\d+)/.exec(server.output);
    if (match) return Number(match[1]);
    // Polling the output the subprocess has printed so far, not waiting out a race.
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`no HTTP line:\n${server.output}`);
}

/** The directory failed tests' screenshots go to. */
export function artifactsDir(): string {
  return Deno.env.get("CHAT_TEST_ARTIFACTS") ?? "test-artifacts";
}

/**
 * Runs `fn`; if it throws, saves a full-page screenshot of every page of
 * `browser` still open as `<dir>/<name>-<n>.png` before rethrowing.
 */
export async function keepScreenshots<T>(
  browser: BrowserContext,
  name: string,
  fn: () => Promise<T>,
): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    const dir = artifactsDir();
    await Deno.mkdir(dir, { recursive: true });
    const slug = name.replace(/[^A-Za-z0-9_-]+/g, "-").slice(0, 80);
    const pages: Page[] = browser.pages();
    for (const [index, page] of pages.entries()) {
      const path = `${dir}/${slug}-${index}.png`;
      try {
        await page.screenshot({ path, fullPage: true, timeout: 5000 });
        console.error(`screenshot of page ${index} (${page.url()}) kept in ${path}`);
      } catch (shot) {
        console.error(`no screenshot of page ${index}: ${shot}`);
      }
    }
    throw error;
  }
}
