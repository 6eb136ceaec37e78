/**
 * API errors as typed codes mapped to HTTP statuses in one place. The message of a 4xx
 * reaches the client (it says what to fix); a 5xx says only "internal error" to the client
 * and the detail goes to the log.
 */
export const ERROR_STATUS = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  unavailable: 503,
  internal: 500,
} as const;
export type ErrorCode = keyof typeof ERROR_STATUS;

export class ApiError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
    /** response headers that go with the error, e.g. retry-after with rate_limited */
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }
}

export function errorResponse(err: unknown): Response {
  if (err instanceof ApiError) {
    return Response.json(
      { error: { code: err.code, message: err.message, ...err.details } },
      { status: ERROR_STATUS[err.code], headers: err.headers },
    );
  }
  console.error("brokerwatch: unhandled error in a request:", err);
  return Response.json({ error: { code: "internal", message: "internal error" } }, { status: 500 });
}
