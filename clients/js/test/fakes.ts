// In-process stand-ins for what a browser and latch provide: a latch that
// rotates refresh tokens strictly (no grace window, so any token presented
// twice is reuse and ends the session), an exclusive lock manager shared by
// "tabs", and a BroadcastChannel hub that delivers asynchronously.

import { createHash } from "node:crypto";
import type { ChannelLike, LockManagerLike } from "../src/index.js";

export const ISSUER = "https://auth.example.test";

interface Sess {
  id: string;
  ended: boolean;
  oauth: boolean;
}

interface Refresh {
  sess: Sess;
  used: boolean;
}

interface Pending {
  clientId: string;
  redirectUri: string;
  challenge: string;
  nonce: string;
  used: boolean;
}

export interface Call {
  method: string;
  path: string;
  headers: Headers;
  body: string;
}

function b64url(buf: Buffer): string {
  return buf.toString("base64url");
}

function jwt(claims: Record<string, unknown>): string {
  const h = b64url(Buffer.from(JSON.stringify({ alg: "EdDSA", typ: "JWT" })));
  return `${h}.${b64url(Buffer.from(JSON.stringify(claims)))}.c2ln`;
}

/** FakeLatch answers the endpoints the client calls, by a clock it is given. */
export class FakeLatch {
  calls: Call[] = [];
  reuses = 0;
  rotations = 0;
  accessTTL = 900;
  /** When set, the next answer of this path is this (once). */
  override = new Map<string, () => Response>();
  private n = 0;
  private refresh = new Map<string, Refresh>();
  private access = new Map<string, { sess: Sess; exp: number }>();
  private codes = new Map<string, Pending>();
  private mfaTokens = new Set<string>();
  sessions: Sess[] = [];
  userMetadata: Record<string, unknown> = {};

  constructor(public now: () => number) {}

  fetch: typeof fetch = async (input, init) => {
    const req = input instanceof Request ? input : new Request(input, init);
    const url = new URL(req.url);
    const body = await req.text();
    this.calls.push({ method: req.method, path: url.pathname, headers: req.headers, body });
    // Let other "tabs" run between request and answer, as a network would.
    await new Promise((r) => setImmediate(r));
    const o = this.override.get(url.pathname);
    if (o) {
      this.override.delete(url.pathname);
      return o();
    }
    return this.route(req.method, url, req.headers, body);
  };

  private user(session: string): Record<string, unknown> {
    return { id: "u1", email: "kate@example.com", session, app_metadata: { plan: "pro" }, user_metadata: this.userMetadata };
  }

  count(path: string): number {
    return this.calls.filter((c) => c.path === path).length;
  }

  /** authorize plays latch's /oauth/authorize: it answers the redirect back. */
  authorize(authorizeUrl: string, opts: { iss?: string | null } = {}): string {
    const q = new URL(authorizeUrl).searchParams;
    const code = "code-" + ++this.n;
    this.codes.set(code, {
      clientId: q.get("client_id") ?? "",
      redirectUri: q.get("redirect_uri") ?? "",
      challenge: q.get("code_challenge") ?? "",
      nonce: q.get("nonce") ?? "",
      used: false,
    });
    const back = new URL(q.get("redirect_uri") ?? "");
    back.searchParams.set("code", code);
    back.searchParams.set("state", q.get("state") ?? "");
    const iss = opts.iss === undefined ? ISSUER : opts.iss;
    if (iss !== null) back.searchParams.set("iss", iss);
    return back.toString();
  }

  private pair(sess: Sess, extra: Record<string, unknown> = {}): Response {
    const at = "at-" + ++this.n;
    const rt = "rt-" + ++this.n;
    this.access.set(at, { sess, exp: this.now() + this.accessTTL * 1000 });
    this.refresh.set(rt, { sess, used: false });
    return json(200, {
      access_token: at,
      token_type: "Bearer",
      expires_in: this.accessTTL,
      refresh_token: rt,
      ...(sess.oauth ? {} : { user: { id: "u1", email: "kate@example.com", email_confirmed: true, roles: ["user"], created_at: "2026-01-01T00:00:00Z" } }),
      ...extra,
    });
  }

  private newSession(oauth: boolean): Sess {
    const s = { id: "s" + ++this.n, ended: false, oauth };
    this.sessions.push(s);
    return s;
  }

  private rotate(rt: string, oauth: boolean): Response {
    const r = this.refresh.get(rt);
    if (!r || r.sess.ended) return oauth ? oauthErr(400, "invalid_grant") : problem(401, "invalid_token");
    if (r.used) {
      this.reuses++;
      r.sess.ended = true;
      return oauth ? oauthErr(400, "invalid_grant") : problem(401, "invalid_token");
    }
    r.used = true;
    this.rotations++;
    return this.pair(r.sess);
  }

  private bearer(h: Headers): { sess: Sess } | Response {
    const m = /^Bearer (.+)$/.exec(h.get("Authorization") ?? "");
    const a = m?.[1] ? this.access.get(m[1]) : undefined;
    if (!a || a.sess.ended) return problem(401, "invalid_token");
    if (this.now() >= a.exp) return problem(401, "token_expired");
    return a;
  }

  private route(method: string, url: URL, h: Headers, body: string): Response {
    const key = `${method} ${url.pathname}`;
    const jsonBody = (): Record<string, string> => (h.get("Content-Type") === "application/json" ? JSON.parse(body) : {});
    const form = (): URLSearchParams => new URLSearchParams(body);
    switch (key) {
      case "POST /v1/login": {
        const b = jsonBody();
        if (b["password"] !== "correct horse") return problem(401, "invalid_credentials");
        if (b["email"] === "mfa@example.com") {
          const t = "mfa-" + ++this.n;
          this.mfaTokens.add(t);
          return json(403, { type: "about:blank", title: "Forbidden", status: 403, code: "mfa_required", mfa_token: t, methods: ["totp", "recovery_code"] }, "application/problem+json");
        }
        return this.pair(this.newSession(false));
      }
      case "POST /v1/login/mfa": {
        const b = jsonBody();
        if (!this.mfaTokens.delete(b["mfa_token"] ?? "") || (b["code"] !== "123456" && b["recovery_code"] !== "rc-1")) {
          return problem(401, "invalid_credentials");
        }
        return this.pair(this.newSession(false));
      }
      case "POST /v1/token/refresh":
        return this.rotate(jsonBody()["refresh_token"] ?? "", false);
      case "POST /v1/logout": {
        const a = this.bearer(h);
        if (a instanceof Response) return a;
        a.sess.ended = true;
        return new Response(null, { status: 204 });
      }
      case "GET /v1/me": {
        const a = this.bearer(h);
        if (a instanceof Response) return a;
        return json(200, this.user(a.sess.id));
      }
      case "PATCH /v1/me": {
        const a = this.bearer(h);
        if (a instanceof Response) return a;
        const b = JSON.parse(body) as Record<string, unknown>;
        const m = b["user_metadata"];
        if (Object.keys(b).some((k) => k !== "user_metadata") || m === null || typeof m !== "object" || Array.isArray(m)) {
          return problem(400, "invalid_request");
        }
        if (JSON.stringify(m).length > 4096) return problem(422, "invalid_metadata");
        this.userMetadata = m as Record<string, unknown>;
        return json(200, this.user(a.sess.id));
      }
      case "POST /oauth/revoke": {
        const r = this.refresh.get(form().get("token") ?? "");
        if (r) r.sess.ended = true;
        return new Response(null, { status: 200 });
      }
      case "POST /oauth/token": {
        const f = form();
        if (h.get("Content-Type") !== "application/x-www-form-urlencoded") return oauthErr(400, "invalid_request");
        if (f.get("grant_type") === "refresh_token") return this.rotate(f.get("refresh_token") ?? "", true);
        if (f.get("grant_type") !== "authorization_code") return oauthErr(400, "unsupported_grant_type");
        const c = this.codes.get(f.get("code") ?? "");
        if (!c || c.used) return oauthErr(400, "invalid_grant");
        c.used = true;
        const challenge = b64url(createHash("sha256").update(f.get("code_verifier") ?? "").digest());
        if (c.challenge !== challenge || c.redirectUri !== f.get("redirect_uri") || c.clientId !== f.get("client_id")) {
          return oauthErr(400, "invalid_grant");
        }
        const idToken = jwt({ iss: ISSUER, aud: c.clientId, sub: "u1", nonce: c.nonce });
        return this.pair(this.newSession(true), { id_token: idToken });
      }
    }
    return problem(404, "not_found");
  }
}

export function json(status: number, body: unknown, type = "application/json"): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": type } });
}

export function problem(status: number, code: string, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify({ type: "about:blank", title: "x", status, code, detail: code + " detail" }), {
    status,
    headers: { "Content-Type": "application/problem+json", ...headers },
  });
}

export function oauthErr(status: number, error: string): Response {
  return json(status, { error, error_description: error + " description" });
}

/** FakeLocks is an exclusive lock manager shared by the tabs given it. */
export class FakeLocks implements LockManagerLike {
  private tails = new Map<string, Promise<unknown>>();
  held = 0;
  maxHeld = 0;

  request<T>(name: string, callback: (lock: unknown) => Promise<T>): Promise<T> {
    const prev = this.tails.get(name) ?? Promise.resolve();
    const run = prev.then(async () => {
      this.held++;
      this.maxHeld = Math.max(this.maxHeld, this.held);
      try {
        return await callback({ name });
      } finally {
        this.held--;
      }
    });
    this.tails.set(name, run.catch(() => undefined));
    return run;
  }
}

/**
 * FakeHub gives each tab a channel; a message reaches every other channel
 * of the same name on a later turn of the event loop (after `delay` ms),
 * never the sender, like BroadcastChannel.
 */
export class FakeHub {
  private members = new Map<string, Set<FakeChannel>>();
  delay = 0;

  open = (name: string): ChannelLike => {
    const c = new FakeChannel(this, name);
    let set = this.members.get(name);
    if (!set) this.members.set(name, (set = new Set()));
    set.add(c);
    return c;
  };

  deliver(from: FakeChannel, data: unknown): void {
    const copy = structuredClone(data);
    for (const c of this.members.get(from.name) ?? []) {
      if (c !== from) setTimeout(() => c.receive(copy), this.delay);
    }
  }

  leave(c: FakeChannel): void {
    this.members.get(c.name)?.delete(c);
  }
}

class FakeChannel implements ChannelLike {
  private listeners: ((ev: { data: unknown }) => void)[] = [];
  closed = false;
  constructor(private hub: FakeHub, readonly name: string) {}
  postMessage(message: unknown): void {
    if (this.closed) throw new Error("channel closed");
    this.hub.deliver(this, message);
  }
  addEventListener(_type: "message", l: (ev: { data: unknown }) => void): void {
    this.listeners.push(l);
  }
  receive(data: unknown): void {
    if (!this.closed) for (const l of this.listeners) l({ data });
  }
  close(): void {
    this.closed = true;
    this.hub.leave(this);
  }
}

/** Clock is a settable clock in milliseconds. */
export class Clock {
  t = Date.UTC(2026, 0, 1);
  now = (): number => this.t;
  advance(seconds: number): void {
    this.t += seconds * 1000;
  }
}
