import type { NextConfig } from "next";

/**
 * Headers on every response, pages and API alike. Pages get their Content-Security-Policy from
 * proxy.ts, with a per-request script nonce (lib/csp.ts); everything else (API responses, /metrics,
 * static files, router prefetches) gets this fixed one, which runs no script at all: none of them
 * is a document that needs one.
 */
const FIXED_CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

const SECURITY_HEADERS = [
  { key: "X-Frame-Options", value: "DENY" },
  { key: "X-Content-Type-Options", value: "nosniff" },
  { key: "Referrer-Policy", value: "same-origin" },
];

const nextConfig: NextConfig = {
  // Database drivers and the broker stay plain Node modules, loaded at run time, never bundled.
  serverExternalPackages: ["@electric-sql/pglite", "postgres", "aedes", "mqtt", "prom-client", "@node-rs/argon2", "undici"],
  // `npm run typecheck` (tsc, in CI) checks types; the build that `npm start` may run skips it
  // so a first start is faster.
  typescript: { ignoreBuildErrors: true },
  poweredByHeader: false,
  experimental: {
    // Next loads every page's and route's server modules at start by default: ~110 MB of heap
    // for this app before the first request (idle RSS 250 MB → 140 MB). A route's modules load
    // on its first request instead (tens of ms, once).
    preloadEntriesOnStart: false,
  },
  async headers() {
    return [
      { source: "/:path*", headers: SECURITY_HEADERS },
      // not on pages: two policies would both be enforced, and this one has no nonce
      { source: "/api/:path*", headers: [{ key: "Content-Security-Policy", value: FIXED_CONTENT_SECURITY_POLICY }] },
      { source: "/metrics", headers: [{ key: "Content-Security-Policy", value: FIXED_CONTENT_SECURITY_POLICY }] },
      { source: "/_next/:path*", headers: [{ key: "Content-Security-Policy", value: FIXED_CONTENT_SECURITY_POLICY }] },
    ];
  },
};

export default nextConfig;
