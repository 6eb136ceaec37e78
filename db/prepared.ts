import type { Db } from "./client";

/**
 * `build(db)` made once per database handle and kept while the handle lives: for prepared queries
 * with placeholders, whose drizzle query builder costs more CPU and garbage than their round trip
 * (README "Benchmarks", history). `build` must not depend on anything but `db`. Its own module:
 * db/client.ts is not for the web bundle (it resolves the migrations folder).
 */
export function oncePerDatabase<T>(build: (db: Db) => T): (db: Db) => T {
  const built = new WeakMap<Db, T>();
  return (db) => {
    let value = built.get(db);
    if (value === undefined) built.set(db, (value = build(db)));
    return value;
  };
}
