import { parentPort, threadId, workerData } from "node:worker_threads";
import { ConfigError } from "@/lib/config";
import { onCommittedEvents } from "@/lib/live";
import type { FromWorker, IngestState, ToWorker } from "./ingest-thread";
import { STATE_EVERY_MS } from "./ingest-thread";
import { startService, StartError, type Service, type ServiceOptions } from "./service";

/**
 * The ingest worker thread of `npm start` (server/ingest-thread.ts): runs the service's ingest
 * side and answers the web thread over the message port — its state every STATE_EVERY_MS and
 * after each command, committed events while a live stream listens.
 */
const port = parentPort!;
const post = (message: FromWorker) => port.postMessage(message);

function stateOf(service: Service): IngestState {
  const { collectors, engine, writer, deliveryWorker, cluster } = service;
  return {
    collectors: new Map(
      collectors.list().map((c) => [
        c.broker.name,
        {
          broker: { name: c.broker.name, clientId: c.broker.clientId },
          status: c.status,
          lastSeenAt: c.lastSeenAt,
          latest: new Map(c.latest),
        },
      ]),
    ),
    clusters: collectors.clusters(),
    engine: { alerts: engine.alerts(), rules: engine.ruleStates(), metrics: engine.metrics() },
    writer: {
      stats: { ...writer.stats },
      eventsPerSecond: writer.eventsPerSecond(),
      queued: writer.queued,
      isFull: writer.isFull,
    },
    delivery: { ...deliveryWorker.stats },
    cluster: { name: cluster.name, ttlMs: cluster.ttlMs, isLeader: cluster.isLeader },
  };
}

async function main(): Promise<void> {
  let service: Service | undefined;
  const sendState = () => {
    if (service) post({ kind: "state", state: stateOf(service) });
  };
  try {
    service = await startService({ ...(workerData as ServiceOptions), onAlertRound: sendState });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const expected = err instanceof StartError || err instanceof ConfigError;
    post({ kind: "start-failed", message: expected ? e.message : (e.stack ?? String(e)), code: e.code, expected });
    return;
  }
  // A status change shows on the web side at once, not up to STATE_EVERY_MS later.
  service.collectors.on("status", sendState);
  post({
    kind: "started",
    started: {
      bundledBrokerUrl: service.broker?.url ?? null,
      generatedAdminPassword: service.generatedAdminPassword,
      secret: service.secret,
      threadId,
    },
    state: stateOf(service),
  });
  const timer = setInterval(sendState, STATE_EVERY_MS);

  let unwatchEvents: (() => void) | null = null;
  const run = async (id: number, work: () => Promise<unknown>) => {
    try {
      await work();
      sendState();
      post({ kind: "done", id });
    } catch (err) {
      post({ kind: "done", id, error: (err as Error).message });
    }
  };
  port.on("message", (message: ToWorker) => {
    switch (message.kind) {
      case "shipped":
        service.collectors.noteShippedEvents(message.broker, message.events);
        break;
      case "watch-events":
        unwatchEvents?.();
        unwatchEvents = message.on
          ? onCommittedEvents(service.writer, (events) => post({ kind: "events", events }))
          : null;
        break;
      case "call": {
        const { command } = message;
        if (command.name === "reload") void run(message.id, () => service.collectors.reload());
        else if (command.name === "evaluate") {
          service.engine.evaluateNow(command.reason);
          void run(message.id, () => service.engine.idle());
        } else {
          clearInterval(timer);
          unwatchEvents?.();
          void run(message.id, () => service.stop()).then(() => port.close());
        }
        break;
      }
    }
  });
}

void main();
