/**
 * The Content-Security-Policy of every page (proxy.ts sets it per request; docs/contract.md §1).
 *
 * Scripts: only those carrying this response's nonce, and what they load ('strict-dynamic'). Next
 * reads the nonce from this header while rendering and puts it on its bootstrap, its RSC payload
 * scripts and its chunks (next/dist/server/app-render/get-script-nonce-from-header.js), so no
 * inline script without it runs: an injected `<script>` or `onerror=` does nothing. 'self' stays
 * for browsers without CSP 3, which ignore 'strict-dynamic' (and those with it ignore 'self').
 *
 * Styles keep 'unsafe-inline': React renders `style="…"` attributes (bar widths, colours), which a
 * nonce cannot cover (style-src-attr), and a nonce in style-src would make browsers ignore
 * 'unsafe-inline'. An injected style cannot run script; with img-src, font-src and connect-src
 * limited to this site it cannot send what it reads anywhere else either.
 */
export function pageContentSecurityPolicy(nonce: string): string {
  return [
    "default-src 'self'",
    `script-src 'self' 'nonce-${nonce}' 'strict-dynamic'`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; ");
}
