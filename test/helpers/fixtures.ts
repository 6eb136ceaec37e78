import { readFileSync } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { EventRow } from "@/db/ingest";
import { blankEvent } from "@/lib/collector/types";

/** One captured $SYS message: the topic and its payload as text. */
export type SysLine = { topic: string; payload: string };

/** A fixture of captured messages, one JSON object a line, from test/fixtures/. */
export function readSysLines(fixture: string): SysLine[] {
  return readFileSync(path.join(import.meta.dirname, "..", "fixtures", fixture), "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as SysLine);
}

/** `mosquitto_sub -v` output (`topic payload`) from test/fixtures/; the one topic with a space is matched by name. */
export function readMosquittoSubLines(fixture: string): SysLine[] {
  return readFileSync(path.join(import.meta.dirname, "..", "fixtures", fixture), "utf8")
    .split("\n")
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((line) => {
      const split = /^(\$SYS\/broker\/retained messages\/count|\S+) (.*)$/.exec(line);
      if (!split) throw new Error(`fixture line without a payload: ${line}`);
      return { topic: split[1], payload: split[2] };
    });
}

/** EMQX 5 payloads in their documented shape (test/fixtures/emqx-5/README.md). */
export const EMQX_SYS_LINES = readSysLines("emqx-5/sys-topics.jsonl");

/** A brokerwatch.yaml of these lines in a fresh temporary directory; returns its path. */
export async function writeConfigFile(lines: string[]): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "bw-config-"));
  const file = path.join(dir, "brokerwatch.yaml");
  await writeFile(file, lines.join("\n") + "\n");
  return file;
}

/**
 * A connection event as the writer stores it, of broker `plant-a` and received when it happened
 * unless `fields` say otherwise; every field not given is null (blankEvent).
 */
export function eventRow(fields: Pick<EventRow, "ts" | "type" | "raw"> & Partial<EventRow>): EventRow {
  const { ts, type, raw } = fields;
  return { broker: "plant-a", ...blankEvent({ ts, receivedAt: ts, type, raw }), ...fields };
}
