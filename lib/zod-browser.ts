import { z } from "zod";

/**
 * Zod 4 compiles object parsers with `new Function` when it may, and finds out by trying one. In
 * the browser the pages' CSP allows no eval (lib/csp.ts), so the probe is refused and reported as a
 * violation on every page that validates a form, although zod carries on without it. jitless skips
 * the probe there; the server keeps the compiled parsers. Imported first by each module that builds
 * schemas the browser also loads, since zod reads the setting when a schema is built.
 */
if (typeof window !== "undefined") z.config({ jitless: true });
