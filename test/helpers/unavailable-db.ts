import type { Database } from "@/db/client";

/** A database that refuses every write, as Postgres does while it is down. */
export function unavailable(database: Database): Database {
  const refuse = () => Promise.reject(new Error("database unavailable"));
  return {
    ...database,
    db: new Proxy(database.db, {
      get: (target, prop) => (prop === "transaction" ? refuse : Reflect.get(target, prop, target)),
    }),
    postgres:
      database.postgres &&
      new Proxy(database.postgres, {
        get: (target, prop) =>
          prop === "begin" || prop === "reserve"
            ? refuse
            : prop === "unsafe"
              ? () => {
                  throw new Error("database unavailable");
                }
              : Reflect.get(target, prop, target),
      }),
  };
}
