/**
 * Who listens where, read from the kernel (/proc/net/tcp*), so a taken port is reported with the
 * process holding it instead of surfacing later as a confusing EADDRINUSE.
 */
import { readFileSync, readdirSync, readlinkSync } from "node:fs";
import { sleep } from "../runtime";

export interface Listener {
  address: string;
  port: number;
  inode: string;
}

function decodeAddress(hex: string): string {
  if (hex.length === 8) {
    return [3, 2, 1, 0].map((i) => parseInt(hex.slice(i * 2, i * 2 + 2), 16)).join(".");
  }
  // IPv6 is four little-endian 32-bit words.
  const words = hex.match(/.{8}/g)!.map((w) => w.match(/../g)!.reverse().join(""));
  const groups = words.join("").match(/.{4}/g)!.map((g) => g.replace(/^0+(?=.)/, ""));
  return groups.join(":").replace(/(^|:)0(:0)+(:|$)/, "::");
}

/** Every TCP socket in LISTEN state on this machine. */
export function listeners(): Listener[] {
  const found: Listener[] = [];
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text = "";
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10 || cols[3] !== "0A") continue;
      const [addr, port] = cols[1].split(":");
      found.push({ address: decodeAddress(addr), port: parseInt(port, 16), inode: cols[9] });
    }
  }
  return found;
}

/** pid and command of the process holding a socket inode, when visible. */
export function socketProcess(inode: string): { pid: number; command: string } | null {
  const target = `socket:[${inode}]`;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${entry}/fd/${fd}`) === target) {
          const command = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").filter(Boolean).slice(0, 3).join(" ");
          return { pid: Number(entry), command };
        }
      } catch {
        // the process ended or is not ours to read
      }
    }
  }
  return null;
}

/** A description of whoever listens on `port` ("pid 123 (bun src/main.ts ...)"), or null if free. */
export async function portOwner(port: number): Promise<string | null> {
  const held = listeners().find((l) => l.port === port);
  if (!held) return null;
  const proc = socketProcess(held.inode);
  return proc ? `pid ${proc.pid} (${proc.command})` : `another process (listening on ${held.address})`;
}

/** Polls `url` until it answers 2xx, the deadline passes, or `alive()` says the process died. */
export async function waitForHealth(url: string, timeoutMs: number, alive: () => boolean = () => true): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "no answer yet";
  while (Date.now() < deadline) {
    if (!alive()) throw new Error(`process exited before ${url} answered`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (response.ok) return;
      last = `HTTP ${response.status}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await sleep(50);
  }
  throw new Error(`${url} not healthy after ${timeoutMs} ms (${last})`);
}

/** Whether `pid` runs. A zombie (exited, not yet reaped by an init that never reaps) does not. */
export const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.[0] !== "Z";
  } catch {
    return false;
  }
};
