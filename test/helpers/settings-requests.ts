/** Requests for the settings route handlers as a browser or script sends them, and their JSON answers. */
export const ORIGIN = "http://brokerwatch.test";

export type Credentials = { token: string } | { cookie: string; origin?: string } | null;
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON answers, asserted field by field
export type Json = Record<string, any>;

export function request(method: string, urlPath: string, who: Credentials, body?: unknown): Request {
  const headers: Record<string, string> = { host: "brokerwatch.test" };
  if (who && "token" in who) headers.authorization = `Bearer ${who.token}`;
  if (who && "cookie" in who) {
    headers.cookie = who.cookie;
    headers.origin = who.origin ?? ORIGIN;
  }
  if (body !== undefined) headers["content-type"] = "application/json";
  return new Request(`${ORIGIN}${urlPath}`, {
    method,
    headers,
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
}

export const params = <T extends Record<string, string>>(value: T) => ({ params: Promise.resolve(value) });

export async function call(
  response: Promise<Response> | Response,
): Promise<{ status: number; body: Json; text: string }> {
  const res = await response;
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Json) : {}, text };
}
