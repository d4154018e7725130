/**
 * Errors the client throws. Every one is a LatchError carrying a stable
 * machine-readable `code`: the `code` of latch's problem+json answers
 * (RFC 9457) for the JSON API, the `error` of RFC 6749 answers for the
 * OAuth endpoints, or one of the client's own codes (`not_signed_in`,
 * `state_mismatch`, `issuer_mismatch`, `nonce_mismatch`, `invalid_response`).
 */

/** An RFC 9457 problem details body as latch answers it. */
export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  code?: string;
  detail?: string;
  [extra: string]: unknown;
}

/** LatchError is the base of every error the client throws on purpose. */
export class LatchError extends Error {
  /** Stable machine-readable code, e.g. `invalid_credentials`. */
  readonly code: string;
  /** HTTP status of the answer (0 when the error did not come from latch). */
  readonly status: number;
  /** The decoded answer body, when there was one. */
  readonly body: Record<string, unknown> | undefined;

  constructor(code: string, message: string, status = 0, body?: Record<string, unknown>) {
    super(message);
    this.name = "LatchError";
    this.code = code;
    this.status = status;
    this.body = body;
  }
}

/**
 * MfaRequiredError answers a login whose password was right for an account
 * with a second factor: complete it with `loginMfa({ mfaToken, code })`.
 */
export class MfaRequiredError extends LatchError {
  /** Single-use, short-lived token bound to the password check. */
  readonly mfaToken: string;
  /** The factors the account has, e.g. `["totp", "recovery_code"]`. */
  readonly methods: string[];

  constructor(message: string, status: number, body: Record<string, unknown>) {
    super("mfa_required", message, status, body);
    this.name = "MfaRequiredError";
    this.mfaToken = typeof body["mfa_token"] === "string" ? body["mfa_token"] : "";
    this.methods = Array.isArray(body["methods"])
      ? body["methods"].filter((m): m is string => typeof m === "string")
      : [];
  }
}

/** RateLimitedError is a 429 (or 503): ask again after `retryAfter` seconds. */
export class RateLimitedError extends LatchError {
  /** Seconds from the Retry-After header (undefined when absent). */
  readonly retryAfter: number | undefined;

  constructor(code: string, message: string, status: number, body: Record<string, unknown> | undefined, retryAfter: number | undefined) {
    super(code, message, status, body);
    this.name = "RateLimitedError";
    this.retryAfter = retryAfter;
  }
}

/**
 * SessionEndedError means latch refused the refresh token (401
 * `invalid_token`): the session is over (logged out elsewhere, expired, or
 * ended because a rotated token was presented again). The client has
 * already forgotten it and announced SIGNED_OUT.
 */
export class SessionEndedError extends LatchError {
  constructor(message: string, status: number, body: Record<string, unknown> | undefined) {
    super("invalid_token", message, status, body);
    this.name = "SessionEndedError";
  }
}

/** OAuthError is an RFC 6749 error: from /oauth/* or an authorization redirect. */
export class OAuthError extends LatchError {
  /** The `error_description`, if any. */
  readonly description: string | undefined;

  constructor(code: string, description: string | undefined, status: number, body?: Record<string, unknown>) {
    super(code, description ? `${code}: ${description}` : code, status, body);
    this.name = "OAuthError";
    this.description = description;
  }
}

/**
 * CallbackError is an authorization response the client refuses before
 * exchanging its code: unknown or reused `state`, a wrong or missing `iss`
 * (RFC 9207), or an ID token whose `nonce`, `iss` or `aud` do not match.
 */
export class CallbackError extends LatchError {
  constructor(code: "state_mismatch" | "issuer_mismatch" | "nonce_mismatch" | "invalid_response", message: string) {
    super(code, message);
    this.name = "CallbackError";
  }
}

/** NotSignedInError: the call needs a session and there is none. */
export class NotSignedInError extends LatchError {
  constructor() {
    super("not_signed_in", "not signed in");
    this.name = "NotSignedInError";
  }
}

function asRecord(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

function retryAfterSeconds(res: Response): number | undefined {
  const v = res.headers.get("Retry-After");
  if (v === null || !/^\d+$/.test(v.trim())) return undefined;
  return Number(v.trim());
}

/**
 * errorFromResponse turns a non-2xx answer into the matching error class.
 * It reads the body (problem+json or RFC 6749 JSON); an unreadable body
 * still gives an error with a code derived from the status.
 */
export async function errorFromResponse(res: Response): Promise<LatchError> {
  let body: Record<string, unknown> | undefined;
  try {
    body = asRecord(JSON.parse(await res.text()));
  } catch {
    body = undefined;
  }
  const status = res.status;
  const str = (k: string): string | undefined => (body && typeof body[k] === "string" ? (body[k] as string) : undefined);
  const code = str("code");
  const oauth = str("error");
  if (code === undefined && oauth !== undefined) {
    if (oauth === "mfa_required" && body) return new MfaRequiredError(str("error_description") ?? "a second factor is required", status, body);
    if (status === 429 || status === 503) return new RateLimitedError(oauth, str("error_description") ?? oauth, status, body, retryAfterSeconds(res));
    return new OAuthError(oauth, str("error_description"), status, body);
  }
  const c = code ?? fallbackCode(status);
  const message = str("detail") ?? str("title") ?? `latch answered ${status}`;
  if (c === "mfa_required" && body) return new MfaRequiredError(message, status, body);
  if (status === 429 || status === 503) return new RateLimitedError(c, message, status, body, retryAfterSeconds(res));
  return new LatchError(c, message, status, body);
}

function fallbackCode(status: number): string {
  switch (status) {
    case 400:
      return "invalid_request";
    case 401:
      return "invalid_token";
    case 403:
      return "forbidden";
    case 404:
      return "not_found";
    case 429:
      return "rate_limited";
    case 503:
      return "unavailable";
    default:
      return status >= 500 ? "internal" : "http_" + status;
  }
}
