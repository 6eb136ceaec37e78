"use client";

import { useEffect, useRef, useState } from "react";

export type StreamState = "connecting" | "live" | "reconnecting";

/**
 * Subscribe to a server-sent event stream while mounted. EventSource reconnects by itself after a
 * network error; when the server refused the stream outright (a restart mid-handshake, a 5xx) it
 * gives up, so we start a new one with capped backoff. Handlers get each event's JSON data.
 */
async function sessionEnded(url: string): Promise<boolean> {
  const abort = new AbortController();
  try {
    const res = await fetch(url, { signal: abort.signal, cache: "no-store" });
    return res.status === 401;
  } catch {
    return false;
  } finally {
    abort.abort(); // a 200 here is a live stream: we only wanted its status
  }
}

export function useEventSource(url: string | null, handlers: Record<string, (data: unknown) => void>): StreamState {
  const [state, setState] = useState<StreamState>("connecting");
  const handlersRef = useRef(handlers);
  useEffect(() => {
    handlersRef.current = handlers;
  });
  const names = Object.keys(handlers).sort().join(",");

  useEffect(() => {
    if (!url) return;
    let source: EventSource | null = null;
    let retryTimer: ReturnType<typeof setTimeout> | null = null;
    let attempts = 0;
    let disposed = false;

    const open = () => {
      source = new EventSource(url);
      source.onopen = () => {
        attempts = 0;
        setState("live");
      };
      source.onerror = () => {
        if (disposed || !source) return;
        setState("reconnecting");
        if (source.readyState !== EventSource.CLOSED) return; // the browser retries on its own
        source.close();
        // EventSource hides the status: ask once whether the session ended (a 401), and if so go to
        // the login page, which brings the user back here; anything else is retried with backoff.
        void sessionEnded(url).then((ended) => {
          if (disposed) return;
          if (ended) {
            window.location.assign(
              `/login?next=${encodeURIComponent(window.location.pathname + window.location.search)}`,
            );
            return;
          }
          const delay = Math.min(30_000, 1000 * 2 ** attempts++);
          retryTimer = setTimeout(open, delay);
        });
      };
      for (const name of names.split(",")) {
        source.addEventListener(name, (e) => {
          let data: unknown;
          try {
            data = JSON.parse((e as MessageEvent<string>).data);
          } catch {
            return;
          }
          handlersRef.current[name]?.(data);
        });
      }
    };
    open();
    return () => {
      disposed = true;
      if (retryTimer) clearTimeout(retryTimer);
      source?.close();
    };
  }, [url, names]);

  return state;
}
