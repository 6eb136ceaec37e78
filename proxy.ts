import { NextResponse, type NextRequest } from "next/server";
import { pageContentSecurityPolicy } from "@/lib/csp";

/**
 * A fresh nonce for every page request (lib/csp.ts): set on the request's Content-Security-Policy,
 * where Next finds it while rendering and puts it on every script it emits, and on the response,
 * where the browser enforces it. Pages render per request (app/layout.tsx awaits connection()),
 * so no HTML is ever served with a nonce it was not given for.
 */
export function proxy(request: NextRequest): NextResponse {
  const nonce = Buffer.from(crypto.getRandomValues(new Uint8Array(18))).toString("base64");
  const policy = pageContentSecurityPolicy(nonce);
  const requestHeaders = new Headers(request.headers);
  requestHeaders.set("x-nonce", nonce);
  requestHeaders.set("content-security-policy", policy);
  const response = NextResponse.next({ request: { headers: requestHeaders } });
  response.headers.set("content-security-policy", policy);
  return response;
}

export const config = {
  matcher: [
    // Pages only: API routes, /metrics and static files carry next.config.ts's fixed policy.
    {
      source: "/((?!api/|api$|metrics$|_next/static|_next/image|favicon.ico).*)",
      missing: [
        { type: "header", key: "next-router-prefetch" },
        { type: "header", key: "purpose", value: "prefetch" },
      ],
    },
  ],
};
