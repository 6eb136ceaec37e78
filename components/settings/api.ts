/**
 * The settings pages and the rule editor call the same HTTP API scripts do (the session cookie
 * authenticates them; the browser's Origin header satisfies the cross-site check). A failure
 * carries the API's message and, for a 400, the field it names (and, for an expression, the
 * character it stopped at), so the form can point at it.
 */
export class ApiFailure extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly parameter: string | null,
    readonly position: number | null = null,
  ) {
    super(message);
  }
}

export async function callApi<T>(
  method: "GET" | "POST" | "PATCH" | "DELETE",
  url: string,
  body?: unknown,
  { signal }: { signal?: AbortSignal } = {},
): Promise<T> {
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers: body === undefined ? undefined : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      signal,
    });
  } catch (err) {
    // an abandoned request (the caller moved on) is not "brokerwatch is down"
    if (signal?.aborted) throw err;
    throw new ApiFailure("cannot reach brokerwatch; is it running?", 0, null);
  }
  const json = (await res.json().catch(() => null)) as
    (T & { error?: { message?: string; parameter?: string; position?: number } }) | null;
  if (!res.ok) {
    if (res.status === 401) throw new ApiFailure("your session has ended; sign in again", 401, null);
    const error = json?.error;
    const message = error?.message ?? `request failed (HTTP ${res.status})`;
    throw new ApiFailure(message, res.status, error?.parameter ?? null, error?.position ?? null);
  }
  return json as T;
}

export function failureMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
