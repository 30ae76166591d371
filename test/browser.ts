/**
 * Headless Chromium for the report tests, driven over the DevTools protocol with Bun's own
 * WebSocket: what a reader's browser renders, its console errors, and any request a page makes.
 *
 * Playwright is not used. Its launch talks to Chromium over extra stdio pipes, which under Bun go
 * through Bun's node:child_process emulation: measured here, the 25th launch failed in both of
 * two loops of 30 ("Failed to connect", ENOENT), an earlier CI run lost a test to a launch that
 * never completed, and the last one lost two tests, both of which open pages, to 180 and 300 s
 * hangs. Its WebSocket client (connectOverCDP) never finished connecting under Bun. Here Chromium is a plain process that writes its port to a file; every protocol call
 * has a time limit, and a browser that goes away fails what was pending at once.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";

export const CHROMIUM = "/usr/bin/chromium";
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--hide-scrollbars", "--mute-audio", "--remote-debugging-port=0"];
/** What one call (navigation, wait, evaluation, screenshot) may take before it fails. */
const CALL_MS = 30_000;
const LAUNCH_MS = 15_000;

type Message = { id?: number; method?: string; params?: any; result?: any; error?: { message: string } };

/** One DevTools connection: calls with ids and a deadline, events to listeners. */
class Session {
  private next = 1;
  private pending = new Map<number, { done: (r: any) => void; fail: (e: Error) => void; timer: Timer }>();
  private listeners = new Map<string, ((params: any) => void)[]>();
  private closed: string | null = null;

  private constructor(private ws: WebSocket) {
    ws.onmessage = (event) => {
      const message = JSON.parse(String(event.data)) as Message;
      if (message.id !== undefined) {
        const call = this.pending.get(message.id);
        if (!call) return;
        this.pending.delete(message.id);
        clearTimeout(call.timer);
        if (message.error) call.fail(new Error(message.error.message));
        else call.done(message.result);
      } else if (message.method) {
        for (const listener of this.listeners.get(message.method) ?? []) listener(message.params);
      }
    };
    ws.onclose = (e) => this.end(`the browser closed the connection (${e.code} ${e.reason})`);
  }

  static open(url: string): Promise<Session> {
    return new Promise((done, fail) => {
      // Uncompressed: Bun's client once failed to inflate a DevTools frame ("1002 Invalid
      // compressed data"), and on loopback compression saves nothing. (Bun's constructor takes
      // this option; the DOM type of WebSocket does not know it.)
      const ws = new (WebSocket as unknown as new (url: string, options: { perMessageDeflate: boolean }) => WebSocket)(url, { perMessageDeflate: false });
      const timer = setTimeout(() => {
        ws.close();
        fail(new Error(`no DevTools connection to ${url} within ${LAUNCH_MS} ms`));
      }, LAUNCH_MS);
      ws.onopen = () => (clearTimeout(timer), done(new Session(ws)));
      ws.onerror = () => (clearTimeout(timer), fail(new Error(`DevTools connection to ${url} failed`)));
    });
  }

  send(method: string, params: Record<string, unknown> = {}): Promise<any> {
    if (this.closed) return Promise.reject(new Error(`${method}: ${this.closed}`));
    const id = this.next++;
    return new Promise((done, fail) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        fail(new Error(`${method}: no answer within ${CALL_MS} ms`));
      }, CALL_MS);
      this.pending.set(id, { done, fail, timer });
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  on(method: string, listener: (params: any) => void) {
    this.listeners.set(method, [...(this.listeners.get(method) ?? []), listener]);
  }

  /** The next `method` event, or an error after CALL_MS. */
  once(method: string): Promise<any> {
    return new Promise((done, fail) => {
      const timer = setTimeout(() => fail(new Error(`${method}: not within ${CALL_MS} ms`)), CALL_MS);
      let fired = false;
      this.on(method, (params) => {
        if (fired) return;
        fired = true;
        clearTimeout(timer);
        done(params);
      });
    });
  }

  end(reason = "closed") {
    if (this.closed) return;
    this.closed = reason;
    for (const [, call] of this.pending) {
      clearTimeout(call.timer);
      call.fail(new Error(reason));
    }
    this.pending.clear();
    this.ws.close();
  }
}

/** The text a console argument shows. */
const shown = (arg: { value?: unknown; description?: string; type: string }) =>
  arg.value !== undefined ? String(arg.value) : (arg.description ?? arg.type);

/** A tab, with what it printed as an error and what it requested beyond files (and data: URLs). */
export class ReportPage {
  readonly errors: string[] = [];
  readonly requests: string[] = [];

  constructor(private session: Session) {
    session.on("Runtime.consoleAPICalled", (p) => p.type === "error" && this.errors.push(p.args.map(shown).join(" ")));
    session.on("Runtime.exceptionThrown", (p) => this.errors.push(p.exceptionDetails.exception?.description ?? p.exceptionDetails.text));
    session.on("Log.entryAdded", (p) => p.entry.level === "error" && this.errors.push(p.entry.text));
    session.on("Network.requestWillBeSent", (p) => !/^(file|data|blob):/.test(p.request.url) && this.requests.push(p.request.url));
  }

  async goto(url: string) {
    const loaded = this.session.once("Page.loadEventFired");
    const { errorText } = await this.session.send("Page.navigate", { url });
    if (errorText) throw new Error(`${url}: ${errorText}`);
    await loaded;
  }

  /** `fn(arg)` run in the page; its value comes back as JSON. */
  async evaluate<R, A = undefined>(fn: (arg: A) => R, arg?: A): Promise<Awaited<R>> {
    return this.run(`(${fn.toString()})(${arg === undefined ? "" : JSON.stringify(arg)})`);
  }

  /** `fn` over every element `selector` matches. */
  async $$eval<R>(selector: string, fn: (elements: Element[]) => R): Promise<Awaited<R>> {
    return this.run(`(${fn.toString()})(Array.from(document.querySelectorAll(${JSON.stringify(selector)})))`);
  }

  /** `fn` over the first element `selector` matches; none is an error. */
  async $eval<R>(selector: string, fn: (element: Element) => R): Promise<Awaited<R>> {
    const s = JSON.stringify(selector);
    return this.run(`(() => { const e = document.querySelector(${s}); if (!e) throw new Error("no element matches " + ${s}); return (${fn.toString()})(e); })()`);
  }

  /** One entry per element `selector` matches. */
  async $$(selector: string): Promise<number[]> {
    const count = await this.run(`document.querySelectorAll(${JSON.stringify(selector)}).length`) as number;
    return Array.from({ length: count }, (_, i) => i);
  }

  /** Until `fn(arg)` is truthy in the page (checked every 50 ms), or an error after CALL_MS. */
  async waitForFunction<A = undefined>(fn: (arg: A) => unknown, arg?: A) {
    const deadline = Date.now() + CALL_MS;
    while (!(await this.evaluate(fn, arg))) {
      if (Date.now() > deadline) throw new Error(`waited ${CALL_MS} ms for ${fn.toString()}`);
      await Bun.sleep(50);
    }
  }

  /** A PNG of the viewport, or of the whole page with `fullPage`. */
  async screenshot(options: { path: string; fullPage?: boolean }) {
    let clip: Record<string, number> | undefined;
    if (options.fullPage) {
      const { cssContentSize: size } = await this.session.send("Page.getLayoutMetrics");
      clip = { x: 0, y: 0, width: Math.ceil(size.width), height: Math.ceil(size.height), scale: 1 };
    }
    const { data } = await this.session.send("Page.captureScreenshot", { format: "png", captureBeyondViewport: Boolean(clip), ...(clip ? { clip } : {}) });
    writeFileSync(options.path, Buffer.from(data, "base64"));
  }

  private async run(expression: string) {
    const { result, exceptionDetails } = await this.session.send("Runtime.evaluate", { expression, awaitPromise: true, returnByValue: true });
    if (exceptionDetails) throw new Error(`in the page: ${exceptionDetails.exception?.description ?? exceptionDetails.text}`);
    return result.value;
  }
}

/** A Chromium of the caller's own: `close()` ends its process and removes its profile. */
export class ReportBrowser {
  private sessions: Session[] = [];

  private constructor(private child: ReturnType<typeof Bun.spawn>, private profile: string, private port: string) {}

  static async launch(): Promise<ReportBrowser> {
    const profile = mkdtempSync(`${tmpdir()}/fleetbench-chromium-`);
    const log = `${profile}/chromium.log`;
    const child = Bun.spawn([CHROMIUM, ...ARGS, `--user-data-dir=${profile}`, "about:blank"], { stdin: "ignore", stdout: Bun.file(log), stderr: Bun.file(log) });
    const browser = new ReportBrowser(child, profile, "");
    try {
      // Chromium writes the port it chose (then the browser's path) to DevToolsActivePort.
      const portFile = `${profile}/DevToolsActivePort`;
      const deadline = Date.now() + LAUNCH_MS;
      while (!existsSync(portFile) || readFileSync(portFile, "utf8").split("\n").filter(Boolean).length < 2) {
        if (child.exitCode !== null) throw new Error(`chromium exited (${child.exitCode}) before it listened`);
        if (Date.now() > deadline) throw new Error(`chromium did not listen within ${LAUNCH_MS} ms`);
        await Bun.sleep(20);
      }
      browser.port = readFileSync(portFile, "utf8").split("\n")[0];
      return browser;
    } catch (error) {
      const said = existsSync(log) ? readFileSync(log, "utf8").trim().split("\n").slice(-2).join(" | ") : "";
      await browser.close();
      throw new Error(`${(error as Error).message}${said ? ` (chromium: ${said})` : ""}`);
    }
  }

  /** A new tab of `viewport` size. */
  async newPage(options: { viewport: { width: number; height: number } }): Promise<ReportPage> {
    const response = await fetch(`http://127.0.0.1:${this.port}/json/new?about:blank`, { method: "PUT", signal: AbortSignal.timeout(CALL_MS) });
    if (!response.ok) throw new Error(`chromium would not open a tab: HTTP ${response.status}`);
    const target = (await response.json()) as { webSocketDebuggerUrl: string };
    const session = await Session.open(target.webSocketDebuggerUrl);
    this.sessions.push(session);
    const page = new ReportPage(session);
    await Promise.all(["Page.enable", "Runtime.enable", "Log.enable", "Network.enable"].map((m) => session.send(m)));
    await session.send("Emulation.setDeviceMetricsOverride", { ...options.viewport, deviceScaleFactor: 1, mobile: false });
    return page;
  }

  async close() {
    for (const session of this.sessions) session.end();
    this.child.kill("SIGTERM");
    const gone = await Promise.race([this.child.exited.then(() => true), Bun.sleep(5_000).then(() => false)]);
    if (!gone) {
      this.child.kill("SIGKILL");
      await this.child.exited;
    }
    // Its helpers may still write to the profile for a moment after the browser process exits.
    for (let attempt = 0; attempt < 20 && existsSync(this.profile); attempt++) {
      try {
        rmSync(this.profile, { recursive: true, force: true });
      } catch {
        await Bun.sleep(100);
      }
    }
  }
}

/** A browser; a launch is given 15 s and tried up to three times. */
export async function launchBrowser(): Promise<ReportBrowser> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await ReportBrowser.launch();
    } catch (error) {
      if (attempt === 3) throw error;
      console.warn(`chromium did not start (attempt ${attempt} of 3): ${(error as Error).message}`);
    }
  }
}

/**
 * A report page at `width` px, as a reader opens it, with its console errors and any request it
 * makes. It waits until the page has drawn `charts` charts (any number when not given; 0: none).
 */
export async function openPage(html: string, width: number, charts?: number) {
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage({ viewport: { width, height: 900 } });
    await page.goto(`file://${html}`);
    if (charts === undefined) await page.waitForFunction(() => document.body.dataset.charts !== undefined);
    else if (charts > 0) await page.waitForFunction((n) => document.body.dataset.charts === String(n), charts);
    return { browser, page, errors: page.errors, requests: page.requests };
  } catch (error) {
    await browser.close();
    throw error;
  }
}
