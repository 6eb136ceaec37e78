/**
 * Which notifications to send after an evaluation round: Alertmanager's aggregation groups and
 * dedup stage (dispatch/dispatch.go, notify/notify.go DedupStage.needsUpdate), with one deliberate
 * difference: there is no group_interval tick. A new firing alert or a resolution goes out in the
 * round it happens, because Alertmanager's 5-minute tick is what its users complain about most
 * (docs/alerting.md A2: alertmanager#1660, #1510, #3210 — "ops want pages now").
 *
 * `plan` is pure (time is an input); `Dispatcher` reads the webhooks, group states and silences,
 * enqueues what `plan` decided, then records the new group states.
 */
import { createHash } from "node:crypto";
import type { Database } from "@/db/client";
import {
  alertEpisode,
  notifiableWebhooks,
  notificationGroupsOf,
  saveNotificationGroup,
  silencesEndingAfter,
  type NotificationGroupRow,
} from "@/db/outbox";
import type { WebhookRow } from "@/db/schema";
import type { Labels } from "@/lib/alerts/promql";
import { latestIncidentBefore } from "@/db/incidents";
import {
  formatMessage,
  groupKeyOf,
  INCIDENT_LINKED_ALERTS,
  withIncidentURL,
  type NotificationStatus,
  type NotifyAlert,
  type WebhookMessage,
} from "./format";
import { enqueue } from "./outbox";
import { ALERTMANAGER_RESEND_SECONDS, renderBody, type ReceiverOptions } from "./receivers";
import { isSilenced, routesTo, type Silence } from "./silences";

export type { NotifyAlert } from "./format";

/** Defaults for a webhook that does not set them (config `groupBy`, `groupWait`, `repeatInterval`). */
export const DEFAULT_GROUP_BY: readonly string[] = ["alertname", "broker", "cluster"];
export const DEFAULT_GROUP_WAIT_SECONDS = 0;
/** Alertmanager's repeat_interval default. */
export const DEFAULT_REPEAT_INTERVAL_SECONDS = 4 * 3600;

export type PlanWebhook = Pick<
  WebhookRow,
  "id" | "name" | "sendResolved" | "groupBy" | "groupWaitSeconds" | "repeatIntervalSeconds"
> &
  Partial<Pick<WebhookRow, "type" | "match" | "matchRe">>;

/** The repeat interval of a receiver that does not set one: Alertmanager hears every minute while firing. */
export function repeatIntervalOf(webhook: Pick<PlanWebhook, "repeatIntervalSeconds" | "type">): number {
  if (webhook.repeatIntervalSeconds !== null) return webhook.repeatIntervalSeconds;
  return webhook.type === "alertmanager" ? ALERTMANAGER_RESEND_SECONDS : DEFAULT_REPEAT_INTERVAL_SECONDS;
}

/** What a webhook last heard about one group: Alertmanager's notification log entry. */
export interface GroupState {
  webhookId: number;
  groupKey: string;
  /**
   * alertKey()s of the firing alerts last notified, sorted; null when the receiver has not been told
   * of anything firing in this episode (never notified, or everything resolved since).
   */
  notifiedFiring: string[] | null;
  lastNotifiedAt: Date | null;
  /** when the group's current episode was first seen firing; group_wait runs from here */
  firstSeenAt: Date | null;
}

/** Why a notification goes out, in the words of Alertmanager's notification_reason (notify/notify.go). */
export type NotifyReason =
  | "first notification"
  | "new alerts added"
  | "some alerts resolved"
  | "all alerts resolved"
  | "repeat interval elapsed";

export interface PlannedNotification {
  webhookId: number;
  groupKey: string;
  status: NotificationStatus;
  reason: NotifyReason;
  dedupKey: string;
  message: WebhookMessage;
}

export interface PlanInput {
  now: Date;
  /** every firing alert, and every alert that resolved in this round */
  alerts: readonly NotifyAlert[];
  /** the webhooks to notify: enabled and not disabled by a 410 */
  webhooks: readonly PlanWebhook[];
  /** the stored state of their groups */
  groups: readonly GroupState[];
  silences: readonly Silence[];
  externalURL: string;
}

export interface Plan {
  notifications: PlannedNotification[];
  /** group states that changed, to be stored after the notifications are enqueued */
  groupStates: GroupState[];
}

export function plan(input: PlanInput): Plan {
  const result: Plan = { notifications: [], groupStates: [] };
  const stored = new Map(input.groups.map((g) => [`${g.webhookId} ${g.groupKey}`, g]));
  for (const webhook of input.webhooks) {
    const routed = input.alerts.filter((alert) => routesTo(webhook, alert.labels));
    const groups = groupAlerts(routed, webhook.groupBy ?? DEFAULT_GROUP_BY);
    for (const [groupKey, group] of groups) {
      const prev = stored.get(`${webhook.id} ${groupKey}`) ?? {
        webhookId: webhook.id,
        groupKey,
        notifiedFiring: null,
        lastNotifiedAt: null,
        firstSeenAt: null,
      };
      const { notification, state } = planGroup(webhook, groupKey, group, prev, input);
      if (notification) result.notifications.push(notification);
      if (!sameState(prev, state)) result.groupStates.push(state);
    }
    // A remembered group without a single alert now lost them without a resolution passing through
    // here (e.g. groupBy changed): forget the episode so a later one starts with group_wait again.
    for (const prev of input.groups) {
      if (prev.webhookId !== webhook.id || groups.has(prev.groupKey)) continue;
      if (prev.notifiedFiring !== null || prev.firstSeenAt !== null) {
        result.groupStates.push({ ...prev, notifiedFiring: null, firstSeenAt: null });
      }
    }
  }
  return result;
}

interface AlertGroup {
  labels: Labels;
  alerts: NotifyAlert[];
}

/** dispatch.go getGroupLabels: the groupBy labels an alert has; a missing one is left out, not "". */
function groupAlerts(alerts: readonly NotifyAlert[], groupBy: readonly string[]): Map<string, AlertGroup> {
  const groups = new Map<string, AlertGroup>();
  for (const alert of alerts) {
    const labels: Labels = {};
    for (const name of groupBy) if (alert.labels[name] !== undefined) labels[name] = alert.labels[name];
    const key = groupKeyOf(labels);
    const group = groups.get(key);
    if (group) group.alerts.push(alert);
    else groups.set(key, { labels, alerts: [alert] });
  }
  return groups;
}

/**
 * One firing episode of an alert: the fingerprint alone would make an alert that resolved and fired
 * again look already notified.
 */
function alertKey(alert: NotifyAlert): string {
  return `${alert.fingerprint}@${alert.startsAt.getTime()}`;
}

function planGroup(
  webhook: PlanWebhook,
  groupKey: string,
  group: AlertGroup,
  prev: GroupState,
  input: PlanInput,
): { notification?: PlannedNotification; state: GroupState } {
  const now = input.now;
  // Silenced alerts still keep the group (and its group_wait) alive; they just never reach the receiver.
  const anyFiring = group.alerts.some((a) => a.state === "firing");
  const audible = group.alerts.filter((a) => !isSilenced(a.labels, input.silences, now));
  const firing = audible.filter((a) => a.state === "firing");
  const notified = new Set(prev.notifiedFiring ?? []);
  // Only what the receiver was told is firing gets a resolution: an alert that fired and resolved
  // within group_wait, or while silenced, never paged anyone (Alertmanager docs, group_wait).
  const resolved = audible.filter((a) => a.state === "resolved" && notified.has(alertKey(a)));
  const firstSeenAt = anyFiring ? (prev.firstSeenAt ?? now) : null;
  const firingKeys = firing.map(alertKey).sort();

  const groupWaitMs = (webhook.groupWaitSeconds ?? DEFAULT_GROUP_WAIT_SECONDS) * 1000;
  const repeatMs = repeatIntervalOf(webhook) * 1000;
  const since = (t: Date) => now.getTime() - t.getTime();
  const reason = ((): NotifyReason | null => {
    if (resolved.length > 0 && webhook.sendResolved) {
      return firing.length > 0 ? "some alerts resolved" : "all alerts resolved";
    }
    if (firing.length === 0) return null;
    if (prev.notifiedFiring === null) return since(firstSeenAt!) >= groupWaitMs ? "first notification" : null;
    if (firingKeys.some((key) => !notified.has(key))) return "new alerts added";
    if (prev.lastNotifiedAt && since(prev.lastNotifiedAt) >= repeatMs) return "repeat interval elapsed";
    return null;
  })();

  if (reason === null) {
    // With send_resolved off, a resolution still ends the episode (Alertmanager records it in its
    // notification log without calling the receiver).
    return { state: { ...prev, firstSeenAt, notifiedFiring: anyFiring ? prev.notifiedFiring : null } };
  }

  const status: NotificationStatus = firing.length > 0 ? "firing" : "resolved";
  const resolvedKeys = resolved.map(alertKey).sort();
  // Every input that makes this notification what it is, so recomputing it after a crash (before the
  // group state below was stored) yields the same key and the outbox's unique index drops it. A repeat
  // is tied to the notification it repeats: the same set is legitimately sent again every interval.
  const dedupKey = createHash("sha256")
    .update(
      JSON.stringify([
        groupKey,
        status,
        firingKeys,
        resolvedKeys,
        reason === "repeat interval elapsed" ? prev.lastNotifiedAt!.getTime() : null,
      ]),
    )
    .digest("hex");
  const message = formatMessage({
    receiver: webhook.name,
    groupLabels: group.labels,
    externalURL: input.externalURL,
    alerts: [...firing, ...resolved],
    now,
  });
  return {
    notification: { webhookId: webhook.id, groupKey, status, reason, dedupKey, message },
    state: {
      webhookId: webhook.id,
      groupKey,
      notifiedFiring: firing.length > 0 ? firingKeys : null,
      lastNotifiedAt: now,
      firstSeenAt,
    },
  };
}

function sameState(a: GroupState, b: GroupState): boolean {
  return (
    a.lastNotifiedAt?.getTime() === b.lastNotifiedAt?.getTime() &&
    a.firstSeenAt?.getTime() === b.firstSeenAt?.getTime() &&
    JSON.stringify(a.notifiedFiring) === JSON.stringify(b.notifiedFiring)
  );
}

export interface DispatcherOptions {
  /** brokerwatch's own URL, the body's `externalURL` (Alertmanager's backlink) */
  externalURL: string;
  log?: (line: string) => void;
  /** called after a round enqueued anything: DeliveryWorker.wake, so pages leave at once */
  onEnqueued?: () => void;
}

/** Runs `plan` against the database after each evaluation round. */
export class Dispatcher {
  private readonly log: (line: string) => void;

  constructor(
    private readonly database: Database,
    private readonly opts: DispatcherOptions,
  ) {
    this.log = opts.log ?? console.log;
  }

  /**
   * A broker-down alert links to the broker's incident: the newest one begun by the time the alert
   * fired (the rule's `for` means the incident, opened at the status change, is there first).
   */
  private async linkIncidents(alerts: NotifyAlert[]): Promise<NotifyAlert[]> {
    const db = this.database.db;
    return Promise.all(
      alerts.map(async (alert) => {
        const broker = alert.labels.broker;
        if (!broker || !INCIDENT_LINKED_ALERTS.includes(alert.labels.alertname ?? "")) return alert;
        const id = await latestIncidentBefore(db, broker, alert.startsAt).catch(() => null);
        return withIncidentURL(alert, this.opts.externalURL, id);
      }),
    );
  }

  /** Returns how many notifications were enqueued. */
  async onEvaluation(snapshot: { now: Date; alerts: NotifyAlert[] }): Promise<number> {
    const db = this.database.db;
    const hooks = await notifiableWebhooks(db);
    if (hooks.length === 0) return 0;
    const groupRows = await notificationGroupsOf(
      db,
      hooks.map((h) => h.id),
    );
    const activeSilences = await silencesEndingAfter(db, snapshot.now);
    const alerts = await this.linkIncidents([
      ...snapshot.alerts,
      ...(await this.missedResolutions(groupRows, snapshot)),
    ]);
    const decided = plan({
      now: snapshot.now,
      alerts,
      webhooks: hooks,
      groups: groupRows.map((row) => ({
        webhookId: row.webhookId,
        groupKey: row.groupKey,
        notifiedFiring: row.lastFiringHash === null ? null : (JSON.parse(row.lastFiringHash) as string[]),
        lastNotifiedAt: row.lastNotifiedAt,
        firstSeenAt: row.firstSeenAt,
      })),
      silences: activeSilences,
      externalURL: this.opts.externalURL,
    });

    // Enqueue first, then store the group states: a crash in between re-plans the same notifications
    // on restart, and their dedupKeys make the second enqueue a no-op. The reverse order could lose a page.
    let enqueued = 0;
    const byId = new Map(hooks.map((h) => [h.id, h]));
    for (const n of decided.notifications) {
      const hook = byId.get(n.webhookId)!;
      const body = renderBody(
        {
          type: hook.type,
          name: hook.name,
          options: hook.options as ReceiverOptions,
          repeatIntervalSeconds: repeatIntervalOf(hook),
        },
        n.message,
        snapshot.now,
      );
      const added = await enqueue(db, {
        webhookId: n.webhookId,
        dedupKey: n.dedupKey,
        groupKey: n.groupKey,
        status: n.status,
        body,
      });
      if (added) {
        enqueued += 1;
        this.log(`brokerwatch: webhook ${n.message.receiver}: ${n.status} ${n.groupKey}: ${n.reason}`);
      }
    }
    for (const state of decided.groupStates) {
      // The column is named for a hash, but it holds the notified set itself: "did a new alert join?"
      // needs membership, which a hash cannot answer (Alertmanager's nflog also stores the fingerprints).
      await saveNotificationGroup(db, {
        webhookId: state.webhookId,
        groupKey: state.groupKey,
        lastFiringHash: state.notifiedFiring === null ? null : JSON.stringify(state.notifiedFiring),
        lastNotifiedAt: state.lastNotifiedAt,
        firstSeenAt: state.firstSeenAt,
      });
    }
    if (enqueued > 0) this.opts.onEnqueued?.();
    return enqueued;
  }

  /**
   * Alerts a receiver was paged about that are now neither firing nor resolving: the engine saved
   * their resolution but died before handing it over (it saves before it notifies, so a re-derived
   * firing can never page twice). Rebuild each resolution from its history episode, so every page
   * gets its resolved notification even across a crash.
   */
  private async missedResolutions(
    groupRows: NotificationGroupRow[],
    snapshot: { now: Date; alerts: NotifyAlert[] },
  ): Promise<NotifyAlert[]> {
    const present = new Set(snapshot.alerts.map(alertKey));
    const missing = new Set<string>();
    for (const row of groupRows) {
      const notified = row.lastFiringHash === null ? [] : (JSON.parse(row.lastFiringHash) as string[]);
      for (const key of notified) if (!present.has(key)) missing.add(key);
    }
    const recovered: NotifyAlert[] = [];
    for (const key of missing) {
      const at = key.lastIndexOf("@");
      const fingerprint = key.slice(0, at);
      const startsAt = new Date(Number(key.slice(at + 1)));
      const episode = await alertEpisode(this.database.db, fingerprint, startsAt);
      // Without its episode (past retention) there is nothing to describe the alert with.
      if (!episode) continue;
      recovered.push({
        fingerprint,
        labels: episode.labels,
        annotations: episode.annotations,
        state: "resolved",
        startsAt,
        endsAt: episode.resolvedAt ?? snapshot.now,
        generatorURL: "",
      });
    }
    if (recovered.length) this.log(`brokerwatch: sending ${recovered.length} resolution(s) missed by a restart`);
    return recovered;
  }
}
