"use client";

import { useSyncExternalStore } from "react";
import { zoneName, type TimeZoneChoice } from "./time-format";

/**
 * The viewer's choice of zone for every time on every page (UTC or local), kept in localStorage
 * and shared by all components through one store. The server renders UTC: it does not know the
 * viewer's zone, and UTC is the one choice that cannot be misread in a shared screenshot.
 */
const KEY = "brokerwatch.timeZone";
const EVENT = "brokerwatch:time-zone";

function read(): TimeZoneChoice {
  try {
    return localStorage.getItem(KEY) === "utc" ? "utc" : "local";
  } catch {
    return "local";
  }
}

function subscribe(onChange: () => void): () => void {
  window.addEventListener(EVENT, onChange);
  window.addEventListener("storage", onChange);
  return () => {
    window.removeEventListener(EVENT, onChange);
    window.removeEventListener("storage", onChange);
  };
}

export function useTimeZone(): TimeZoneChoice {
  return useSyncExternalStore(subscribe, read, () => "utc");
}

export function setTimeZone(zone: TimeZoneChoice): void {
  try {
    localStorage.setItem(KEY, zone);
  } catch {
    // private mode: the choice lasts for this page only
  }
  window.dispatchEvent(new Event(EVENT));
}

/** Two buttons in the nav: the zone every time on the page is written in. */
export function TimeZoneSwitch() {
  const zone = useTimeZone();
  const option = (value: TimeZoneChoice, label: string) => (
    <button
      type="button"
      aria-pressed={zone === value}
      onClick={() => setTimeZone(value)}
      className={`rounded px-1.5 py-0.5 focus-visible:outline-2 focus-visible:outline-sky-500 ${
        zone === value
          ? "bg-zinc-800 text-white dark:bg-zinc-200 dark:text-zinc-900"
          : "text-zinc-700 hover:bg-zinc-100 dark:text-zinc-300 dark:hover:bg-zinc-800"
      }`}
    >
      {label}
    </button>
  );
  return (
    <div role="group" aria-label="Time zone" className="flex items-center gap-1 text-xs">
      {option("local", `Local (${zone === "local" ? zoneName("local") : "browser"})`)}
      {option("utc", "UTC")}
    </div>
  );
}
