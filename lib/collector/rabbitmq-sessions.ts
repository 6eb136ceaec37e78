import type { RabbitMqLogRecord } from "./rabbitmq-log";
import { blankEvent, type ConnectionEvent } from "./types";

/**
 * Joins RabbitMQ's MQTT log lines into connection events. Only the `accepting` line names the
 * ClientID; the lines that end a connection name it by the reader's Erlang pid (the line prefix)
 * and by its `peer -> local` address pair. So the joiner remembers each open connection under both.
 *
 * STATEFUL, pure (no I/O), one instance per monitored broker. It holds:
 * - `byPid` / `byPeer`: open connections (ClientID, peer, connect time), bounded, oldest forgotten;
 * - `failedLogins`: the username of a `login failed` line by pid, until the `closing due to an
 *   authentication failure` line of the same connection (which has the address) arrives.
 * A restart of the node (pids start over) makes old entries wrong: `reset()` forgets them.
 */

interface OpenConnection {
  clientId: string;
  address: string | null;
  port: number | null;
  connectedAt: Date;
  pid: string | null;
  peerKey: string | null;
}

export interface RabbitLineContext {
  receivedAt: Date;
  raw: string;
}

const DEFAULT_MAX_OPEN = 200_000;
const MAX_FAILED_LOGINS = 1_000;

export class RabbitMqSessionJoiner {
  private readonly byPid = new Map<string, OpenConnection>();
  private readonly byPeer = new Map<string, OpenConnection>();
  private readonly failedLogins = new Map<string, string>();

  constructor(private readonly maxOpen = DEFAULT_MAX_OPEN) {}

  reset(): void {
    this.byPid.clear();
    this.byPeer.clear();
    this.failedLogins.clear();
  }

  get openConnections(): number {
    return this.byPid.size;
  }

  /** Read one record; returns the event it completes, if any. */
  read(record: RabbitMqLogRecord, ctx: RabbitLineContext): ConnectionEvent | null {
    const { line, pid } = record;
    const ts = record.ts ?? ctx.receivedAt;
    const base = { ts, receivedAt: ctx.receivedAt, raw: ctx.raw };
    switch (line.kind) {
      case "accepting": {
        const open: OpenConnection = {
          clientId: line.clientId,
          address: line.peer?.address ?? null,
          port: line.peer?.port ?? null,
          connectedAt: ts,
          pid,
          peerKey: line.peer ? `${line.peer.address}:${line.peer.port}` : null,
        };
        this.remember(open);
        return blankEvent({
          ...base,
          type: "connected",
          clientId: line.clientId,
          address: open.address,
          port: open.port,
        });
      }
      case "closed": {
        const open = this.take(pid, line.peer ? `${line.peer.address}:${line.peer.port}` : null);
        return blankEvent({
          ...base,
          // a protocol or framing error before any session is a refused connection (docs/contract.md §4)
          type: !open && (line.reason === "protocol_error" || line.reason === "malformed_packet") ? "connect_failed" : "disconnected",
          reason: line.reason,
          clientId: open?.clientId ?? null,
          address: open?.address ?? line.peer?.address ?? null,
          port: open?.port ?? line.peer?.port ?? null,
          sessionSeconds: open ? Math.max(0, (ts.getTime() - open.connectedAt.getTime()) / 1000) : null,
        });
      }
      case "refused": {
        const username = pid ? this.failedLogins.get(pid) : undefined;
        if (pid) this.failedLogins.delete(pid);
        return blankEvent({
          ...base,
          type: "connect_failed",
          reason: line.reason,
          username: username ?? null,
          address: line.peer?.address ?? null,
          port: line.peer?.port ?? null,
        });
      }
      case "login_failed": {
        if (pid) {
          if (this.failedLogins.size >= MAX_FAILED_LOGINS) this.failedLogins.delete(this.failedLogins.keys().next().value!);
          this.failedLogins.set(pid, line.username);
        }
        return null;
      }
      case "kicked": {
        // Named by ClientID only: the oldest open connection with that ClientID is the one closed.
        let found: OpenConnection | null = null;
        for (const open of this.byPid.values()) {
          if (open.clientId === line.clientId) {
            found = open;
            break;
          }
        }
        if (found) this.take(found.pid, found.peerKey);
        return blankEvent({
          ...base,
          type: "disconnected",
          reason: line.reason,
          clientId: line.clientId,
          address: found?.address ?? null,
          port: found?.port ?? null,
          sessionSeconds: found ? Math.max(0, (ts.getTime() - found.connectedAt.getTime()) / 1000) : null,
        });
      }
    }
  }

  private remember(open: OpenConnection): void {
    if (this.byPid.size >= this.maxOpen) {
      const oldest = this.byPid.values().next().value!;
      this.take(oldest.pid, oldest.peerKey);
    }
    // Without a pid (a shipped line in another format) the peer alone keys it.
    const key = open.pid ?? `peer:${open.peerKey}`;
    this.byPid.set(key, open);
    if (open.peerKey) this.byPeer.set(open.peerKey, open);
  }

  private take(pid: string | null, peerKey: string | null): OpenConnection | null {
    const open = (pid ? this.byPid.get(pid) : undefined) ?? (peerKey ? this.byPeer.get(peerKey) : undefined) ?? null;
    if (!open) return null;
    this.byPid.delete(open.pid ?? `peer:${open.peerKey}`);
    if (open.peerKey) this.byPeer.delete(open.peerKey);
    return open;
  }
}
