import { activeAlerts, silences as listSilences } from "@/lib/alerts/console";
import { route } from "@/lib/api/route";
import { isSilenced } from "@/lib/notify/silences";

export const dynamic = "force-dynamic";

/**
 * GET /api/alerts — pending and firing alerts, firing first. From the running engine; without one
 * (the engine is not started) from what it last saved, which is the same state it would restore.
 */
export const GET = route({ auth: "viewer" }, async ({ caller }) => {
  const alerts = await activeAlerts(caller);
  const silences = await listSilences(caller);
  const now = new Date();
  return {
    alerts: alerts.map((a) => ({
      fingerprint: a.fingerprint,
      alertname: a.alertname,
      state: a.state,
      labels: a.labels,
      annotations: a.annotations,
      value: a.value,
      activeAt: a.activeAt,
      firedAt: a.firedAt,
      silencedBy: silences.filter((s) => isSilenced(a.labels, [s], now)).map((s) => s.id),
    })),
  };
});
