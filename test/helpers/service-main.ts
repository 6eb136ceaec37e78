/**
 * A brokerwatch process without its web app, for end-to-end tests that stop, kill, pause and
 * restart it (test/helpers/service-process.ts): `startService` as `npm start` runs it, options
 * from BW_SERVICE_OPTIONS (JSON). Prints `service ready <instance>` once started, and its log.
 */
import { startService, StartError, type ServiceOptions } from "@/server/service";

async function main(): Promise<void> {
  const opts = JSON.parse(process.env.BW_SERVICE_OPTIONS ?? "{}") as ServiceOptions;
  let service: Awaited<ReturnType<typeof startService>>;
  try {
    service = await startService({ ...opts, log: (line) => console.log(line) });
  } catch (err) {
    console.error(err instanceof StartError ? `brokerwatch: ${(err as Error).message}` : (err as Error).stack);
    process.exit(1);
  }
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await service.stop().catch((err: Error) => console.error(`stop failed: ${err.message}`));
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop());
  process.on("SIGINT", () => void stop());
  console.log(`service ready ${service.cluster.name}`);
}

void main();
