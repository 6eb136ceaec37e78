import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { responseSnippet } from "@/lib/notify/response";
import { sendTestNotification } from "@/lib/settings/test-webhook";

/** A receiver that answers 500 and then streams a body that never ends, counting what it wrote. */
let server: http.Server;
let url: string;
const sent = { bytes: 0, closed: 0 };

beforeAll(async () => {
  server = http.createServer((req, res) => {
    req.resume();
    res.writeHead(500, { "content-type": "text/plain" });
    const chunk = Buffer.alloc(64 * 1024, "x");
    let stopped = false;
    res.on("close", () => {
      stopped = true;
      sent.closed += 1;
    });
    const pump = () => {
      // an endless body, bounded only so a broken client cannot keep the test running forever
      while (!stopped && sent.bytes < 2 * 1024 ** 3) {
        sent.bytes += chunk.length;
        if (!res.write(chunk)) return void res.once("drain", pump);
      }
    };
    pump();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe("a receiver that answers with an endless body", () => {
  it("is read only up to the snippet limit, and the rest is cancelled", async () => {
    const closedBefore = sent.closed;
    const response = await fetch(url, { method: "POST", body: "{}" });
    const text = await responseSnippet(response, 200);
    expect(text).toBe("x".repeat(200));
    await expect.poll(() => sent.closed, { timeout: 5000 }).toBe(closedBefore + 1);
    // what was written before the cancel reached the server is a few socket buffers, not the stream
    expect(sent.bytes).toBeLessThan(64 * 1024 * 1024);
  });

  it("does not stall 'send test notification': the result shows a short snippet", async () => {
    const closedBefore = sent.closed;
    const started = Date.now();
    const result = await sendTestNotification(
      { name: "endless", url, secret: null, headers: {} },
      { externalURL: "http://127.0.0.1:1", timeoutMs: 10_000 },
    );
    expect(Date.now() - started).toBeLessThan(5000);
    expect(result).toMatchObject({ delivered: false, statusCode: 500 });
    expect(result.error).toBe(`HTTP 500: ${"x".repeat(300)}`);
    await expect.poll(() => sent.closed, { timeout: 5000 }).toBe(closedBefore + 1);
  });
});
