import { listSilences, loadAlertStates } from "@/db/alerts";
import { alertViews } from "@/lib/alerts/engine";
import { route } from "@/lib/api/route";
import { isSilenced } from "@/lib/notify/silences";
import { getRuntime } from "@/lib/runtime";

export const dynamic = "force-dynamic";

/**
 * GET /api/alerts — pending and firing alerts, firing first. From the running engine; without one
 * (the engine is not started) from what it last saved, which is the same state it would restore.
 */
export const GET = route({ auth: "viewer" }, async () => {
  const { database, alertEngine } = getRuntime();
  const alerts = alertEngine ? alertEngine.alerts() : alertViews(await loadAlertStates(database.db));
  const silences = await listSilences(database.db);
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
