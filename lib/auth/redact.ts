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
