/**
 * The settings pages call the same HTTP API scripts do (the session cookie authenticates them;
 * the browser's Origin header satisfies the cross-site check). A failure carries the API's
 * message and, for a 400, the field it names, so the form can point at it.
 */
export class ApiFailure extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly parameter: string | null,
  ) {
    super(message);
  }
}

export async function callApi<T>(method: "GET" | "POST" | "PATCH" | "DELETE", url: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers: body === undefined ? undefined : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
  } catch {
    throw new ApiFailure("cannot reach brokerwatch; is it running?", 0, null);
  }
  const json = (await res.json().catch(() => null)) as
    (T & { error?: { message?: string; parameter?: string } }) | null;
  if (!res.ok) {
    if (res.status === 401) throw new ApiFailure("your session has ended; sign in again", 401, null);
    const message = json?.error?.message ?? `request failed (HTTP ${res.status})`;
    throw new ApiFailure(message, res.status, json?.error?.parameter ?? null);
  }
  return json as T;
}

export function failureMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
