// The ingest worker thread's entry (server/ingest-thread.ts). A worker inherits `--import tsx`,
// but on Node 20 tsx does not register its loader in a worker thread (a .ts entry fails with
// ERR_UNKNOWN_FILE_EXTENSION): register it here, then load the TypeScript.
import { register } from "tsx/esm/api";

register();
await import("./ingest-worker.ts");
