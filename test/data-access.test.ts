import { describe, expect, it } from "vitest";
import { UnverifiedCallerError } from "@/lib/auth/verified";

/**
 * Every function pages and route handlers call to read data for display lives in lib/ and takes the
 * caller requireUser() or authorize() returned. A page that forgets its own check must fail loudly
 * instead of rendering data (layouts are not an auth boundary).
 */
describe("the data-access layer refuses a caller that was never checked", () => {
  const forged = { role: "admin" as const, username: "admin" };

  it("refuses to list brokers, their gaps, events and charts", async () => {
    const brokers = await import("@/lib/brokers");
    const detail = await import("@/lib/overview/broker-detail");
    const charts = await import("@/lib/charts/load");
    await expect(brokers.brokerList(forged)).rejects.toBeInstanceOf(UnverifiedCallerError);
    await expect(brokers.brokerNames(forged)).rejects.toBeInstanceOf(UnverifiedCallerError);
    await expect(brokers.findBroker(forged, "plant-a")).rejects.toBeInstanceOf(UnverifiedCallerError);
    await expect(brokers.brokerGaps(forged, "plant-a", new Date(0), new Date())).rejects.toBeInstanceOf(
      UnverifiedCallerError,
    );
    await expect(detail.eventBacklog(forged, "plant-a")).rejects.toBeInstanceOf(UnverifiedCallerError);
    await expect(detail.loadBrokerDetail(forged, "plant-a", "1h")).rejects.toBeInstanceOf(UnverifiedCallerError);
    await expect(charts.loadBrokerCharts(forged, "plant-a", "1h")).rejects.toBeInstanceOf(UnverifiedCallerError);
  });

  it("refuses client search, history and recent disconnects", async () => {
    const clients = await import("@/lib/clients");
    await expect(clients.searchClients(forged, "meter")).rejects.toBeInstanceOf(UnverifiedCallerError);
    await expect(clients.clientHistory(forged, "meter-1", { from: new Date(0) })).rejects.toBeInstanceOf(
      UnverifiedCallerError,
    );
    await expect(clients.recentDisconnects(forged, { type: "disconnected" }, { limit: 10 })).rejects.toBeInstanceOf(
      UnverifiedCallerError,
    );
  });

  it("refuses alert history, rules, silences and webhook deliveries", async () => {
    const alerts = await import("@/lib/alerts/console");
    const deliveries = await import("@/lib/notify/deliveries");
    const now = new Date();
    await expect(alerts.alertHistory(forged, { from: new Date(0), to: now, limit: 10 })).rejects.toBeInstanceOf(
      UnverifiedCallerError,
    );
    await expect(alerts.uiAlertRules(forged)).rejects.toBeInstanceOf(UnverifiedCallerError);
    await expect(alerts.silences(forged)).rejects.toBeInstanceOf(UnverifiedCallerError);
    expect(() => alerts.ruleViews(forged)).toThrow(UnverifiedCallerError);
    await expect(deliveries.webhookDeliveryLogs(forged, { notifications: 5, attempts: 5 })).rejects.toBeInstanceOf(
      UnverifiedCallerError,
    );
    await expect(deliveries.webhookDeliveries(forged, "1", 5)).rejects.toBeInstanceOf(UnverifiedCallerError);
  });

  it("refuses the settings views", async () => {
    const [brokers, webhooks, tokens, users] = await Promise.all([
      import("@/lib/settings/brokers"),
      import("@/lib/settings/webhooks"),
      import("@/lib/settings/tokens"),
      import("@/lib/settings/users"),
    ]);
    await expect(brokers.brokerSettings(forged)).rejects.toBeInstanceOf(UnverifiedCallerError);
    await expect(webhooks.webhookSettings(forged)).rejects.toBeInstanceOf(UnverifiedCallerError);
    await expect(tokens.tokenSettings(forged)).rejects.toBeInstanceOf(UnverifiedCallerError);
    await expect(users.userSettings(forged)).rejects.toBeInstanceOf(UnverifiedCallerError);
  });
});
