import { roundTrip } from "../helpers/db-round-trip";
import { describeIf, needs } from "../helpers/require";

/** The round trip of test/db.test.ts on a real Postgres server. */
describeIf(needs({ postgres: true }), "database on the Postgres server of DATABASE_URL", () => roundTrip("postgres"));
