/**
 * What a viewer may see of a secret-bearing value. A webhook URL often is the credential itself
 * (Slack, Teams and Discord put the token in the path), so viewers get its scheme and host only;
 * admins, who can change it anyway, see it whole.
 */
export function webhookUrlForViewer(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}/…`;
  } catch {
    return "(hidden)";
  }
}

/** `text` with every occurrence of `url` shown as webhookUrlForViewer does (for error messages). */
export function redactWebhookUrl(text: string, url: string): string {
  return url ? text.split(url).join(webhookUrlForViewer(url)) : text;
}

/** Webhooks as `caller` may see them: whole for an admin, URLs cut to scheme and host otherwise. */
export function webhooksFor<T extends { url: string }>(caller: { role: string }, hooks: T[]): T[] {
  return caller.role === "admin" ? hooks : hooks.map((h) => ({ ...h, url: webhookUrlForViewer(h.url) }));
}

/**
 * A broker URL, `metricsUrl` or `amqpUrl` as a viewer sees it: scheme, host, port and path, never
 * user info, query or fragment (`?token=…` and `user:password@` are where such URLs carry
 * credentials). A cut query shows as `?…` so nobody mistakes the URL for the whole one.
 */
export function urlForViewer(url: string): string;
export function urlForViewer(url: string | null): string | null;
export function urlForViewer(url: string | null): string | null {
  if (url === null) return null;
  try {
    const parsed = new URL(url);
    const cut = parsed.search || parsed.hash ? "?…" : "";
    const path = parsed.pathname === "/" && !url.replace(/[?#].*$/, "").endsWith("/") ? "" : parsed.pathname;
    return `${parsed.protocol}//${parsed.host}${path}${cut}`;
  } catch {
    return "(hidden)";
  }
}

/** Any URL inside `text` (a collector's error, a gap's reason) cut as urlForViewer does. */
export function redactUrlsForViewer(text: string): string;
export function redactUrlsForViewer(text: string | null): string | null;
export function redactUrlsForViewer(text: string | null): string | null {
  if (text === null) return null;
  return text.replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]+/gi, (match) => {
    // a URL ending a sentence keeps its full stop or colon outside
    const trailing = /[.,;:)\]]+$/.exec(match)?.[0] ?? "";
    return urlForViewer(match.slice(0, match.length - trailing.length)) + trailing;
  });
}
