import { describe } from "vitest";
import { roundTrip } from "./helpers/db-round-trip";

/** The same migrations and queries must work on embedded PGlite and on a real Postgres server (test/e2e/db-postgres.test.ts). */
describe("database on embedded PGlite", () => roundTrip("pglite"));
