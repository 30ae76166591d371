/**
 * Headless Chromium for the report tests. Under Bun, Playwright's launch over the DevTools pipe
 * sometimes never completes (Chromium reports "Connection terminated while reading from pipe" and
 * exits; measured here: 1 launch in 16 timed out, and a CI run lost a test to a 180 s hang). A
 * launch is therefore given 15 s and tried up to three times; what the tests then check is
 * unchanged.
 */
import { type Browser, chromium } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";
const ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

export async function launchBrowser(): Promise<Browser> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await chromium.launch({ executablePath: CHROMIUM, args: ARGS, timeout: 15_000 });
    } catch (error) {
      if (attempt === 3) throw error;
      console.warn(`chromium did not start (attempt ${attempt} of 3): ${(error as Error).message.split("\n")[0]}`);
    }
  }
}

/**
 * A report page at `width` px, as a reader opens it, with its console errors and any request it
 * makes. It waits until the page has drawn `charts` charts (any number when not given; 0: none).
 */
export async function openPage(html: string, width: number, charts?: number) {
  const browser = await launchBrowser();
  const page = await browser.newPage({ viewport: { width, height: 900 } });
  const errors: string[] = [];
  const requests: string[] = [];
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("request", (r) => !r.url().startsWith("file:") && requests.push(r.url()));
  await page.goto(`file://${html}`);
  if (charts === undefined) await page.waitForFunction(() => document.body.dataset.charts !== undefined);
  else if (charts > 0) await page.waitForFunction((n) => document.body.dataset.charts === String(n), charts);
  return { browser, page, errors, requests };
}
