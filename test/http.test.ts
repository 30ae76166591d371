/**
 * The internal HTTP client (src/http.ts): a service that fails while sending its body fails the
 * same way as one that never answered — a 502 or 504 naming it — never as a 500.
 */
import { afterAll, expect, test } from "bun:test";
import { HttpError, callJson } from "../src/http";

const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch(request) {
    const path = new URL(request.url).pathname;
    const start = (c: ReadableStreamDefaultController) => c.enqueue(new TextEncoder().encode('{"robots": ['));
    if (path === "/hang") return new Response(new ReadableStream({ start }), { headers: { "content-type": "application/json" } });
    if (path === "/garbage") return new Response("{not json", { headers: { "content-type": "application/json" } });
    return Response.json({ ok: true });
  },
});
// A service that dies mid-answer: it promises 100 bytes, sends 12 and closes the connection.
const dying = Bun.listen({
  hostname: "127.0.0.1",
  port: 0,
  socket: {
    data(socket) {
      socket.write('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"robots": [');
      setTimeout(() => socket.end(), 20);
    },
  },
});
afterAll(() => {
  server.stop(true);
  dying.stop(true);
});
const url = (path: string) => (path === "/cut" ? `http://127.0.0.1:${dying.port}/cut` : `http://127.0.0.1:${server.port}${path}`);

async function failure(path: string, timeoutMs = 2000): Promise<HttpError> {
  try {
    await callJson("telemetry-service", url(path), timeoutMs);
  } catch (error) {
    return error as HttpError;
  }
  throw new Error(`${path} did not fail`);
}

test("a body cut off mid-way is a 502 naming the service", async () => {
  const error = await failure("/cut");
  expect(error).toBeInstanceOf(HttpError);
  expect(error.status).toBe(502);
  expect(error.message).toStartWith("telemetry-service sent an unreadable answer");
});

test("a body that never ends is a 504 naming the service", async () => {
  const error = await failure("/hang", 300);
  expect(error).toBeInstanceOf(HttpError);
  expect(error.status).toBe(504);
  expect(error.message).toBe("telemetry-service did not finish its answer within 300 ms");
});

test("a body that is not JSON is a 502 naming the service; a good one is parsed", async () => {
  const error = await failure("/garbage");
  expect(error.status).toBe(502);
  expect(error.message).toStartWith("telemetry-service sent an unreadable answer");
  expect(await callJson("telemetry-service", url("/ok"), 2000)).toEqual({ ok: true });
});
