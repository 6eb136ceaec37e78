import { startService, type Service, type ServiceOptions } from "@/server/service";
import { createServerDatabase } from "./db";
import { seedPgliteDataDir } from "./pglite-template";

export interface TestService {
  service: Service;
  /** drops the fresh server database, if one was made; call after `service.stop()` */
  dropDatabase(): Promise<void>;
}

/**
 * `startService` in-process on a fresh database: a new one on the server of DATABASE_URL when it
 * is set, otherwise the service's own PGlite in `dataDir`, seeded from the migrated template.
 */
export async function startTestService(opts: Omit<ServiceOptions, "databaseUrl">): Promise<TestService> {
  if (!process.env.DATABASE_URL) {
    await seedPgliteDataDir(opts.dataDir);
    return { service: await startService(opts), dropDatabase: async () => {} };
  }
  const server = await createServerDatabase();
  try {
    return { service: await startService({ ...opts, databaseUrl: server.url }), dropDatabase: server.drop };
  } catch (err) {
    await server.drop();
    throw err;
  }
}
