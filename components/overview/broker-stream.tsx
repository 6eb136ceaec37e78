"use client";

import { createContext, useContext, useState, type ReactNode } from "react";
import { mergeEvents, type LiveEvent } from "@/lib/overview/events";
import type { OverviewBroker } from "@/lib/overview/types";
import { useEventSource, type StreamState } from "./use-event-source";

interface BrokerStreamValue {
  /** the broker's live summary; null when it is disabled (no collector watches it) */
  live: OverviewBroker | null;
  /** its connection events, newest first */
  events: LiveEvent[];
  state: StreamState;
}

const BrokerStreamContext = createContext<BrokerStreamValue | null>(null);

/**
 * One event stream per broker page (/api/stream/events?broker=) feeding both the status strip and
 * the event list: browsers allow six HTTP/1.1 connections per host across all tabs, so a page
 * holding two long-lived streams would starve a third tab.
 */
export function BrokerStream({
  broker,
  initialLive,
  initialEvents,
  children,
}: {
  broker: string;
  initialLive: OverviewBroker | null;
  initialEvents: LiveEvent[];
  children: ReactNode;
}) {
  const [live, setLive] = useState(initialLive);
  const [events, setEvents] = useState(initialEvents);
  const state = useEventSource(`/api/stream/events?broker=${encodeURIComponent(broker)}`, {
    broker: (data) => setLive(data as OverviewBroker | null),
    backlog: (data) => setEvents((current) => mergeEvents(current, data as LiveEvent[])),
    events: (data) => setEvents((current) => mergeEvents(current, data as LiveEvent[])),
  });
  return <BrokerStreamContext.Provider value={{ live, events, state }}>{children}</BrokerStreamContext.Provider>;
}

export function useBrokerStream(): BrokerStreamValue {
  const value = useContext(BrokerStreamContext);
  if (!value) throw new Error("useBrokerStream needs a <BrokerStream> around it");
  return value;
}
