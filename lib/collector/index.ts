import { createAutoDialect } from "./auto";
import { createBundledDialect } from "./bundled";
import { createEmqxDialect } from "./emqx";
import { createMosquittoDialect } from "./mosquitto";
import type { Dialect, DialectName } from "./types";

/** The `dialect:` of a broker in brokerwatch.yaml (CONTRACT section 2). */
export type DialectSetting = DialectName | "auto";

/** A fresh dialect (with its own counter state) for one monitored broker connection. */
export function createDialect(name: DialectSetting): Dialect {
  switch (name) {
    case "mosquitto":
      return createMosquittoDialect();
    case "emqx":
      return createEmqxDialect();
    case "bundled":
      return createBundledDialect();
    case "auto":
      return createAutoDialect();
  }
}
