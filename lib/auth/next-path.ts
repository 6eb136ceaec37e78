/**
 * Where to send a user after signing in. Only a path on this site: browsers read `/\evil.example`
 * and `/\t/evil.example` as `//evil.example` (backslashes become slashes, tabs and newlines are
 * dropped), so a check on the first characters alone is an open redirect. The value is resolved
 * against a placeholder origin the way a browser would resolve it, and kept only when it stays there.
 * Pure and dependency-free: the login page, its client-side form and requireUser share it.
 */
const HOME = "/";
const PLACEHOLDER = "http://brokerwatch.invalid";

export function safeNextPath(value: unknown): string {
  if (typeof value !== "string" || value.length === 0 || value.length > 2000) return HOME;
  // Control characters and backslashes have no business in a path we produced ourselves.
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\\]/.test(value)) return HOME;
  if (!value.startsWith("/") || value.startsWith("//")) return HOME;
  let resolved: URL;
  try {
    resolved = new URL(value, PLACEHOLDER);
  } catch {
    return HOME;
  }
  if (resolved.origin !== PLACEHOLDER) return HOME;
  // what the URL parser normalised (`/%2F/evil` stays a path; `/./` collapses) is what we send
  const path = `${resolved.pathname}${resolved.search}${resolved.hash}`;
  // A decoded `//` or `/\` at the start would again be read as another host by some clients.
  if (/^\/[/\\]/.test(path) || /^\/%(2f|5c)/i.test(path)) return HOME;
  return path;
}
