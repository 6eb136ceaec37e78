// `node --import ./server/register-hooks.mjs`: see server/server-only-hooks.mjs.
import { register } from "node:module";

register("./server-only-hooks.mjs", import.meta.url);
