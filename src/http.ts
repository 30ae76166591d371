/**
 * What every fleetbench HTTP process shares: the Elysia base app (metrics, /health, errors as
 * JSON with a code) and the internal HTTP client with a timeout on every call.
 */
import { Elysia } from "elysia";
import { createMetrics, metricsPlugin, type ServiceMetrics } from "./metrics";

/** An error that knows its HTTP status; answered as `{ "error": message, "code": code }`. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Robot ids are short tokens (VARCHAR(20)); anything else is rejected before any SQL runs. */
export const ROBOT_ID = /^[A-Za-z0-9_-]{1,20}$/;

export function checkRobotId(id: string): string {
  if (!ROBOT_ID.test(id)) {
    throw new HttpError(400, "INVALID_ROBOT_ID", `robot id must be 1-20 letters, digits, "-" or "_", got ${JSON.stringify(id.slice(0, 40))}`);
  }
  return id;
}

/** Validates a batch body `{ robot_ids: [...] }`: an array of plausible ids, at most `max`. */
export function checkBatch(body: unknown, max: number): string[] {
  const ids = (body as { robot_ids?: unknown } | null)?.robot_ids;
  if (!Array.isArray(ids)) {
    throw new HttpError(400, "INVALID_BATCH", 'body must be a JSON object {"robot_ids": [string, ...]}');
  }
  if (ids.length > max) {
    throw new HttpError(413, "BATCH_TOO_LARGE", `robot_ids may hold at most ${max} ids, got ${ids.length}`);
  }
  for (const id of ids) {
    if (typeof id !== "string") throw new HttpError(400, "INVALID_BATCH", `robot_ids must hold strings, got ${JSON.stringify(id)}`);
    checkRobotId(id);
  }
  return ids;
}

/** The base of every process: metrics, /health, /metrics and JSON errors. */
export function createBaseApp(service: string, metrics: ServiceMetrics = createMetrics(service)) {
  return new Elysia({ name: service })
    .error({ HttpError })
    .onError({ as: "global" }, ({ code, error, set }) => {
      if (error instanceof HttpError) {
        set.status = error.status;
        return { error: error.message, code: error.code };
      }
      if (code === "NOT_FOUND") {
        set.status = 404;
        return { error: "no such route", code: "NOT_FOUND" };
      }
      if (code === "PARSE") {
        set.status = 400;
        return { error: "request body is not valid JSON", code: "INVALID_JSON" };
      }
      if (code === "VALIDATION") {
        set.status = 400;
        return { error: (error as Error).message, code: "INVALID_REQUEST" };
      }
      set.status = 500;
      return { error: `${service} failed: ${(error as Error)?.message ?? String(error)}`, code: "INTERNAL" };
    })
    .use(metricsPlugin(metrics));
}

/**
 * Calls another fleetbench process. Bun's fetch keeps connections alive by default (fairness,
 * docs/design.md §7); every call has a timeout, and a failure is an HttpError naming the service.
 */
export async function upstream(
  service: string,
  url: string,
  timeoutMs: number,
  init?: { method?: string; body?: unknown },
): Promise<Response> {
  try {
    return await fetch(url, {
      method: init?.method ?? "GET",
      body: init?.body === undefined ? undefined : JSON.stringify(init.body),
      headers: init?.body === undefined ? undefined : { "content-type": "application/json" },
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    if ((error as Error)?.name === "TimeoutError") {
      throw new HttpError(504, "UPSTREAM_TIMEOUT", `${service} did not answer within ${timeoutMs} ms`);
    }
    throw new HttpError(502, "UPSTREAM_UNAVAILABLE", `${service} is unreachable: ${(error as Error).message}`);
  }
}

/** A failure while reading an upstream body: the same 502/504 naming the service as a failed call. */
function bodyFailure(service: string, timeoutMs: number, error: unknown): HttpError {
  if ((error as Error)?.name === "TimeoutError") {
    return new HttpError(504, "UPSTREAM_TIMEOUT", `${service} did not finish its answer within ${timeoutMs} ms`);
  }
  return new HttpError(502, "UPSTREAM_UNAVAILABLE", `${service} sent an unreadable answer: ${(error as Error)?.message ?? error}`);
}

/** `upstream` for JSON: the parsed body, or `null` for a 404 ("no such robot" is not a failure). */
export async function callJson<T>(
  service: string,
  url: string,
  timeoutMs: number,
  init?: { method?: string; body?: unknown },
): Promise<T | null> {
  const response = await upstream(service, url, timeoutMs, init);
  // The body arrives after the headers: a service that dies, hangs or sends garbage mid-body
  // fails the same way as one that never answered (502/504 naming it), never as a 500.
  let text: string;
  try {
    if (response.status === 404) {
      await response.arrayBuffer();
      return null;
    }
    if (response.ok) return (await response.json()) as T;
    text = await response.text();
  } catch (error) {
    throw bodyFailure(service, timeoutMs, error);
  }
  throw new HttpError(502, "UPSTREAM_ERROR", `${service} answered ${response.status}: ${text.slice(0, 200)}`);
}
