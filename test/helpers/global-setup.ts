import { ensurePgliteTemplates } from "./pglite-template";

/**
 * Runs once before all test files. Builds the PGlite templates the test databases are copied from
 * (once per change to drizzle/); the Next build happens lazily in startApp.
 */
export default async function setup(): Promise<void> {
  process.env.BROKERWATCH_TEST = "1";
  await ensurePgliteTemplates();
}
