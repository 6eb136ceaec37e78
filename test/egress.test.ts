import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startBundledBroker, type BundledBroker } from "@/broker/index";
import { DEFAULT_TIMING } from "@/lib/collector/collector";
import { ScrapeCollector } from "@/lib/collector/scrape";
import type { IngestWriter } from "@/lib/collector/writer";
import { decideEgress, egressFetch, egressLookup, parseEgress } from "@/lib/egress";
import { testBrokerConnection } from "@/lib/settings/test-connection";
import { sendTestNotification } from "@/lib/settings/test-webhook";

/**
 * Outbound requests: every read is counted while it streams and stops at its cap, redirects stay on
 * the host they were configured for, and BROKERWATCH_EGRESS (link-local and cloud metadata denied
 * by default, loopback allowed) is checked on the address actually connected to.
 */

interface Served {
  url: string;
  port: number;
  requests: string[];
  /** bytes the server managed to write before the client hung up */
  written: number;
  closed: boolean;
  close(): Promise<void>;
}

async function serve(handler: (req: http.IncomingMessage, res: http.ServerResponse, served: Served) => void): Promise<Served> {
  const served = { requests: [] as string[], written: 0, closed: false } as Served;
  const server = http.createServer((req, res) => {
    served.requests.push(req.url ?? "");
    handler(req, res, served);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  served.port = (server.address() as AddressInfo).port;
  served.url = `http://127.0.0.1:${served.port}`;
  served.close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return served;
}

/** An exposition that never ends: 64 KiB of comment lines at a time, as fast as the client reads. */
function endless(_req: http.IncomingMessage, res: http.ServerResponse, served: Served) {
  res.writeHead(200, { "content-type": "text/plain" });
  const chunk = Buffer.from(`# ${"x".repeat(65_533)}\n`);
  const pump = () => {
    while (!res.destroyed) {
      served.written += chunk.length;
      if (!res.write(chunk)) return void res.once("drain", pump);
    }
  };
  res.on("close", () => (served.closed = true));
  pump();
}

const writerStub = new Proxy({}, { get: () => () => undefined }) as unknown as IngestWriter;

function scraper(metricsUrl: string | null, amqpUrl: string | null = null) {
  const log: string[] = [];
  const collector = new ScrapeCollector(
    { name: "scraped", url: "mqtt://127.0.0.1:1", dialect: "rabbitmq", clientId: "bw-test", metricsUrl, amqpUrl },
    writerStub,
    { ...DEFAULT_TIMING, scrapeIntervalMs: 3_600_000 },
    (line) => log.push(line),
  );
  return { collector, log };
}

const saved = process.env.BROKERWATCH_EGRESS;
afterEach(() => {
  if (saved === undefined) delete process.env.BROKERWATCH_EGRESS;
  else process.env.BROKERWATCH_EGRESS = saved;
});

describe("scrapes read at most their cap and follow redirects only on the same host", () => {
  const servers: Served[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
  });

  it("stops reading a metricsUrl that answers an endless body at 16 MiB and says so", async () => {
    const server = await serve(endless);
    servers.push(server);
    const { collector, log } = scraper(`${server.url}/metrics`);
    collector.start();
    try {
      await expect.poll(() => log.join("\n"), { timeout: 20_000 }).toMatch(/larger than the 16777216 bytes/);
      await expect.poll(() => server.closed, { timeout: 10_000 }).toBe(true);
      // what was read is bounded by the cap plus what sat in socket buffers, not by the timeout
      expect(server.written).toBeLessThan(16 * 1024 * 1024 + 8 * 1024 * 1024);
    } finally {
      await collector.stop();
    }
  });

  it("does not follow a redirect to another host; the other host never hears of it", async () => {
    const other = await serve((_req, res) => res.end("mqtt_up 1\n"));
    const redirecting = await serve((_req, res) => {
      // same machine, another origin: localhost vs 127.0.0.1 and another port
      res.writeHead(302, { location: `http://localhost:${other.port}/metrics` }).end();
    });
    servers.push(other, redirecting);
    const { collector, log } = scraper(`${redirecting.url}/metrics`);
    collector.start();
    try {
      await expect.poll(() => log.join("\n"), { timeout: 10_000 }).toMatch(/redirected to another host \(http:\/\/localhost:\d+\)/);
      expect(other.requests).toEqual([]);
    } finally {
      await collector.stop();
    }
  });

  it("follows a redirect within the same host", async () => {
    const server = await serve((req, res) => {
      if (req.url === "/old") res.writeHead(301, { location: "/metrics" }).end();
      else res.writeHead(200, { "content-type": "text/plain" }).end("# nothing yet\n");
    });
    servers.push(server);
    const { collector, log } = scraper(`${server.url}/old`);
    collector.start();
    try {
      await expect.poll(() => server.requests, { timeout: 10_000 }).toEqual(["/old", "/metrics"]);
      expect(log.join("\n")).not.toMatch(/redirect/);
    } finally {
      await collector.stop();
    }
  });
});

describe("BROKERWATCH_EGRESS", () => {
  let broker: BundledBroker;
  beforeAll(async () => {
    broker = await startBundledBroker({ port: 0, node: "bundled@egress" });
  });
  afterAll(async () => {
    await broker?.close();
  });

  it("denies link-local and cloud metadata addresses by default, IPv4-mapped forms too, and allows loopback and private networks", () => {
    const policy = parseEgress(undefined);
    for (const address of ["169.254.169.254", "::ffff:169.254.169.254", "::ffff:a9fe:a9fe", "fe80::1", "fd00:ec2::254", "100.100.100.200"]) {
      expect(decideEgress(address, address, policy).allowed, address).toBe(false);
    }
    expect(decideEgress("metadata.google.internal", "10.1.2.3", policy).allowed).toBe(false);
    for (const address of ["127.0.0.1", "::1", "10.0.0.5", "192.168.1.10", "203.0.113.7"]) {
      expect(decideEgress(address, address, policy).allowed, address).toBe(true);
    }
  });

  it("lets an operator's entry decide first, by address, block or host name", () => {
    const policy = parseEgress("allow:169.254.10.0/24, deny:10.0.0.0/8 deny:*.internal.example,deny:0.0.0.0/0");
    expect(decideEgress("169.254.10.7", "169.254.10.7", policy).allowed).toBe(true);
    expect(decideEgress("169.254.169.254", "169.254.169.254", policy).allowed).toBe(false);
    expect(decideEgress("db.internal.example", "203.0.113.7", policy).allowed).toBe(false);
    expect(decideEgress("10.2.3.4", "10.2.3.4", policy).allowed).toBe(false);
    expect(decideEgress("::1", "::1", policy).allowed).toBe(true);
    expect(() => parseEgress("block:10.0.0.0/8")).toThrow(/allow:<target> or deny:<target>/);
    expect(() => parseEgress("deny:10.0.0.0/40")).toThrow(/bad prefix length/);
  });

  it("checks the addresses a name resolves to and hands the socket only those it allowed", async () => {
    process.env.BROKERWATCH_EGRESS = "deny:::1/128";
    const all = await new Promise<{ address: string }[]>((resolve, reject) =>
      egressLookup("localhost", { all: true }, (err, addresses) => (err ? reject(err) : resolve(addresses as never))),
    );
    expect(all.map((a) => a.address)).not.toContain("::1");
    expect(all.map((a) => a.address)).toContain("127.0.0.1");

    process.env.BROKERWATCH_EGRESS = "deny:127.0.0.0/8,deny:::1/128";
    const server = await serve((_req, res) => res.end("hello"));
    try {
      // the name is fine; the address it resolves to is not, so nothing connects
      await expect(egressFetch(`http://localhost:${server.port}/`)).rejects.toMatchObject({
        cause: { code: "EGRESS_DENIED" },
      });
      await expect(egressFetch(`${server.url}/`)).rejects.toThrow(/refused by BROKERWATCH_EGRESS \(deny:127\.0\.0\.0\/8\)/);
      expect(server.requests).toEqual([]);
    } finally {
      await server.close();
    }
  });

  it("test connection refuses a metadata address at once and still reaches a broker on loopback", async () => {
    const denied = await testBrokerConnection({ url: "mqtt://169.254.169.254:1883" }, { connectTimeoutMs: 3000, listenMs: 100 });
    expect(denied.connected).toBe(false);
    expect(denied.error?.message).toMatch(/169\.254\.169\.254.*denied by default.*BROKERWATCH_EGRESS=allow:169\.254\.169\.254/);

    const allowed = await testBrokerConnection({ url: broker.url }, { connectTimeoutMs: 3000, listenMs: 100 });
    expect(allowed.connected).toBe(true);

    process.env.BROKERWATCH_EGRESS = "deny:127.0.0.0/8,deny:::1/128";
    const byName = await testBrokerConnection({ url: `mqtt://localhost:${broker.port}` }, { connectTimeoutMs: 3000, listenMs: 100 });
    expect(byName.connected).toBe(false);
    expect(byName.error?.message).toMatch(/BROKERWATCH_EGRESS/);
  });

  it("a webhook test to a metadata address is refused before any packet is sent", async () => {
    const result = await sendTestNotification(
      { name: "metadata", url: "http://169.254.169.254/latest/meta-data/", secret: null, headers: {} },
      { externalURL: "http://127.0.0.1:3000", timeoutMs: 3000 },
    );
    expect(result.delivered).toBe(false);
    expect(result.statusCode).toBe(null);
    expect(result.error).toMatch(/denied by default/);
  });

  it("the scraper refuses a metadata metricsUrl and amqpUrl", async () => {
    const { collector, log } = scraper("http://169.254.169.254/metrics", "amqp://169.254.169.254:5672");
    collector.start();
    try {
      await expect.poll(() => log.join("\n"), { timeout: 10_000 }).toMatch(/scrape of .* failed: .*denied by default/);
      await expect.poll(() => log.join("\n"), { timeout: 10_000 }).toMatch(/AMQP .*denied by default/);
    } finally {
      await collector.stop();
    }
  });
});
