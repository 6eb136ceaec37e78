import { Badge, clientHref, formatDuration, reasonTone, TextLink } from "@/components/ui";

/** Small pieces the Clients pages share. */

/** docs/contract.md §4 protocol levels as people name them. */
export function protocolLabel(level: number | null | undefined): string {
  if (level === 3) return "MQTT 3.1";
  if (level === 4) return "MQTT 3.1.1";
  if (level === 5) return "MQTT 5";
  return "—";
}

/**
 * A session's length. Mosquitto logs whole seconds, so a session that began and ended in the same
 * second measures 0: that is "under a second", not "0 ms".
 */
export function sessionLength(seconds: number | null | undefined): string {
  return seconds === 0 ? "< 1 s" : formatDuration(seconds);
}

/** Table cells of the Clients pages: centred, as rows mix badges with plain and monospace text. */
export const cellClass = "px-3 py-2 align-middle";

export function endpointLabel(address: string | null, port: number | null): string {
  if (address === null) return "—";
  // an IPv6 address takes brackets before its port
  const host = address.includes(":") ? `[${address}]` : address;
  return port === null ? address : `${host}:${port}`;
}

/** A reason word in its tone; nothing for events that have none. */
export function ReasonBadge({ reason }: { reason: string | null }) {
  if (!reason) return <span className="text-zinc-600 dark:text-zinc-400">—</span>;
  return <Badge tone={reasonTone(reason)}>{reason}</Badge>;
}

/** A ClientID as text, whatever it holds; `<unknown>` where the broker did not know it. */
export function ClientIdText({ clientId }: { clientId: string | null }) {
  if (clientId === null) return <span className="text-zinc-600 dark:text-zinc-400 italic">&lt;unknown&gt;</span>;
  return <span className="font-mono break-all whitespace-pre-wrap">{clientId}</span>;
}

/** A ClientID that links to its connection history; the unknown ClientID as text, with nothing to link to. */
export function ClientLink({ clientId }: { clientId: string | null }) {
  if (clientId === null) return <ClientIdText clientId={null} />;
  return (
    <TextLink href={clientHref(clientId)}>
      <ClientIdText clientId={clientId} />
    </TextLink>
  );
}
