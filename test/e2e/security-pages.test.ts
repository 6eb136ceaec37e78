import mqtt from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appFetch, startApp, type RunningApp } from "../helpers/app";
import { waitFor } from "../helpers/ports";

/**
 * A layout is not an auth boundary. A React Server Components request (`RSC: 1`) whose
 * `Next-Router-State-Tree` claims the browser already holds the console layout makes Next render
 * only what lies below it — so a cookie-less attacker once read ClientIDs, client addresses,
 * broker URLs and webhook URLs straight from the pages. Every page and loader must check the
 * session itself.
 */
const TOKEN = "security-pages-admin-token";
const CANARY_BROKER_URL = "mqtt://leak-canary-broker.invalid:18830";
const CANARY_WEBHOOK_URL = "https://hooks.leak-canary.invalid/services/T000/B000/leak-canary-secret";
const CANARY_CLIENT = "leak-canary-client";

/**
 * The router state a signed-in browser sends while on the console: it already holds the root
 * layout and the segments named in `held` (the `(console)` group first). The leaf is one it does
 * not hold, so Next starts rendering there, below every layout it was told the browser has.
 */
function craftedTree(held: string[]): string {
  let tree: unknown = ["__not-held__", {}];
  for (const segment of ["(console)", ...held].reverse()) tree = [segment, { children: tree }];
  return encodeURIComponent(JSON.stringify(["", { children: tree }]));
}

async function rscFetch(url: string, tree: string): Promise<{ status: number; body: string }> {
  const headers = { rsc: "1", "next-router-state-tree": tree };
  let res = await fetch(url, { headers, redirect: "manual" });
  // Next asks for its cache-busting `_rsc` search parameter first; an attacker simply follows.
  for (let hops = 0; hops < 3 && res.status >= 300 && res.status < 400; hops++) {
    const location = res.headers.get("location");
    if (!location || !location.includes("_rsc=")) break;
    res = await fetch(new URL(location, url), { headers, redirect: "manual" });
  }
  return { status: res.status, body: await res.text() };
}

describe("console pages without a session", () => {
  let app: RunningApp;
  let client: mqtt.MqttClient;
  let clientAddress: string;

  const api = (path: string, init: RequestInit = {}) => appFetch(app, TOKEN, path, init);

  beforeAll(async () => {
    app = await startApp({ env: { BROKERWATCH_API_TOKEN: TOKEN } });
    expect((await api("/api/brokers", { method: "POST", body: JSON.stringify({ name: "leak-canary", url: CANARY_BROKER_URL }) })).status).toBe(201);
    expect((await api("/api/webhooks", { method: "POST", body: JSON.stringify({ name: "leak-canary-hook", url: CANARY_WEBHOOK_URL }) })).status).toBe(201);
    client = await mqtt.connectAsync(app.mqttUrl!, { clientId: CANARY_CLIENT, reconnectPeriod: 0 });
    const local = (client.stream as unknown as { localPort: number }).localPort;
    clientAddress = `127.0.0.1:${local}`;
    await waitFor(
      "the canary client's connect event",
      async () => {
        const res = await api(`/api/clients/${CANARY_CLIENT}/events?broker=bundled`);
        const body = (await res.json()) as { events?: unknown[] };
        return res.ok && body.events && body.events.length > 0 ? true : null;
      },
      30_000,
      200,
    );
  }, 900_000);

  afterAll(async () => {
    await client?.endAsync().catch(() => {});
    await app?.stop();
  });

  const secrets = () => [CANARY_CLIENT, clientAddress, CANARY_BROKER_URL, "leak-canary-broker.invalid", CANARY_WEBHOOK_URL, "leak-canary-secret"];

  // Each path with the router state that skips every layout above its page.
  const cases: [string, () => string][] = [
    ["/", () => craftedTree([])],
    ["/clients", () => craftedTree(["clients"])],
    [`/clients/${CANARY_CLIENT}`, () => craftedTree(["clients"])],
    ["/brokers", () => craftedTree(["brokers"])],
    ["/brokers/leak-canary", () => craftedTree(["brokers"])],
    ["/alerts", () => craftedTree(["alerts"])],
    ["/alerts/history", () => craftedTree(["alerts", "history"])],
    ["/alerts/webhooks", () => craftedTree(["alerts", "webhooks"])],
    ["/alerts/silences", () => craftedTree(["alerts", "silences"])],
    ["/alerts/rules", () => craftedTree(["alerts", "rules"])],
    ["/settings", () => craftedTree(["settings"])],
    ["/settings/brokers", () => craftedTree(["settings", "brokers"])],
    ["/settings/webhooks", () => craftedTree(["settings", "webhooks"])],
    ["/settings/users", () => craftedTree(["settings", "users"])],
    ["/settings/tokens", () => craftedTree(["settings", "tokens"])],
    ["/settings/rules", () => craftedTree(["settings", "rules"])],
  ];

  it.each(cases)("%s renders nothing but a redirect to the login page", async (path, tree) => {
    const { status, body } = await rscFetch(`${app.url}${path}`, tree());
    // a ClientID the attacker put in the URL comes back in the redirect and the title: not a leak
    const hidden = secrets().filter((s) => !path.includes(s));
    for (const secret of hidden) expect(body, `${path} leaked ${secret}`).not.toContain(secret);
    // the page itself refused: its payload is Next's redirect to the login page, not its content
    if (status === 200) expect(body).toMatch(/NEXT_REDIRECT;[a-z]+;\/login\?next=/);
    else expect([303, 307, 308, 401, 403]).toContain(status);
  });

  it("the crafted request does render the page for a signed-in user (the attack shape is real)", async () => {
    const res = await fetch(`${app.url}/api/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: app.url },
      body: JSON.stringify({ username: "admin", password: app.adminPassword }),
    });
    expect(res.status).toBe(200);
    const cookie = (res.headers.get("set-cookie") ?? "").split(";")[0];
    const headers = { rsc: "1", "next-router-state-tree": craftedTree(["brokers"]), cookie };
    let page = await fetch(`${app.url}/brokers`, { headers, redirect: "manual" });
    if (page.status === 307 && page.headers.get("location")?.includes("_rsc=")) {
      page = await fetch(new URL(page.headers.get("location")!, app.url), { headers, redirect: "manual" });
    }
    const body = await page.text();
    expect(body).toContain("leak-canary");
    // only the page was rendered: the console layout's navigation is not in the payload
    expect(body).not.toContain("signed-in-as");
  });
});
