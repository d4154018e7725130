import {
  CallbackError,
  LatchError,
  NotSignedInError,
  OAuthError,
  SessionEndedError,
  errorFromResponse,
} from "./errors.js";
import { base64urlDecode, randomToken, s256 } from "./pkce.js";
import { memoryStorage, type TokenStorage } from "./storage.js";

/** The events onAuthStateChange reports. */
export type AuthEvent = "SIGNED_IN" | "TOKEN_REFRESHED" | "USER_UPDATED" | "SIGNED_OUT";

/** A listener of onAuthStateChange; session is null for SIGNED_OUT. */
export type AuthListener = (event: AuthEvent, session: Session | null) => void;

/** The user object of latch's token answers and GET /v1/me. */
export interface User {
  id: string;
  email: string;
  email_confirmed: boolean;
  roles: string[];
  created_at: string;
  /** Set by the app's backend (admin API); also a claim of access tokens. */
  app_metadata: Record<string, unknown>;
  /** The user's own: profile fields the app keeps in latch (updateUser). */
  user_metadata: Record<string, unknown>;
  [extra: string]: unknown;
}

/** Session is the token pair the client holds for this page. */
export interface Session {
  accessToken: string;
  refreshToken: string;
  tokenType: string;
  /** Lifetime of the access token in seconds, as latch answered it. */
  expiresIn: number;
  /** When the access token expires, in milliseconds since the epoch (this client's clock). */
  expiresAt: number;
  /** The user, when the answer carried one (the JSON API's answers do). */
  user?: User | undefined;
  /** The OpenID Connect ID token of a code flow sign-in. */
  idToken?: string | undefined;
  /** True when the pair came from the OAuth token endpoint; it is refreshed there too. */
  oauth: boolean;
}

/** The subset of the Web Locks API (navigator.locks) the client uses. */
export interface LockManagerLike {
  request<T>(name: string, callback: (lock: unknown) => Promise<T>): Promise<T>;
}

/** The subset of BroadcastChannel the client uses. */
export interface ChannelLike {
  postMessage(message: unknown): void;
  addEventListener(type: "message", listener: (ev: { data: unknown }) => void): void;
  close(): void;
}

/** Options of a LatchClient. Only `url` is required. */
export interface LatchClientOptions {
  /** latch's base URL, e.g. `https://auth.example.com`. */
  url: string;
  /** OAuth client id: needed for the code flow. */
  clientId?: string;
  /** The redirect URI registered for clientId (code flow). */
  redirectUri?: string;
  /**
   * The issuer the authorization response's `iss` and the ID token's `iss`
   * must equal. Default: `url` without a trailing slash (latch's
   * LATCH_PUBLIC_URL).
   */
  issuer?: string;
  /** Scopes asked for in the code flow. Default `openid email offline_access`. */
  scope?: string;
  /**
   * Where the refresh token is persisted. Default memoryStorage(): the
   * session ends with the page. indexedDBStorage() keeps it across reloads
   * and shares it, coherently, with the origin's other tabs.
   */
  storage?: TokenStorage;
  /**
   * Where the code flow keeps state, nonce and PKCE verifier across the
   * redirect. Default window.sessionStorage (memory where there is none).
   */
  flowStorage?: TokenStorage;
  /**
   * Prefix of the storage keys, the Web Lock name and the BroadcastChannel
   * name. Default `latch:` + clientId (or url). Two clients of one origin
   * with separate sessions need different keys.
   */
  storageKey?: string;
  /**
   * Refresh this many seconds before the access token expires (at most half
   * its lifetime). Default 30.
   */
  refreshMargin?: number;
  /** Refresh ahead of expiry on a timer as well as on use. Default true. */
  autoRefresh?: boolean;
  /**
   * Coordinate refreshes with the origin's other tabs (Web Locks where
   * present, the persisted refresh token re-read inside the lock, new pairs
   * shared over BroadcastChannel). Default true. false makes the client
   * trust its own memory alone: right only when one page at a time uses
   * the persisted session.
   */
  crossTab?: boolean;
  /** The fetch to call latch with. Default globalThis.fetch. */
  fetch?: typeof fetch;
  /** The Web Locks manager. Default navigator.locks; null for none. */
  locks?: LockManagerLike | null;
  /** Opens the channel that shares new pairs. Default BroadcastChannel; null for none. */
  channel?: ((name: string) => ChannelLike) | null;
  /** WebCrypto. Default globalThis.crypto. */
  crypto?: Crypto;
  /** The clock in milliseconds. Default Date.now. */
  now?: () => number;
  /**
   * The browser's WebAuthn, for the passkey methods. Default
   * navigator.credentials with PublicKeyCredential's JSON helpers.
   */
  webauthn?: WebAuthnLike;
}

/**
 * WebAuthnLike runs a WebAuthn ceremony from latch's options (WebAuthn's
 * JSON forms, binary members base64url) and answers the credential in its
 * JSON form (PublicKeyCredential.toJSON()).
 */
export interface WebAuthnLike {
  create(publicKey: unknown): Promise<unknown>;
  get(publicKey: unknown): Promise<unknown>;
}

/** Passkey is a passkey of the signed-in user, as latch lists it. */
export interface Passkey {
  id: string;
  name: string;
  created_at: string;
  [extra: string]: unknown;
}

/** What the client persists: the refresh token and where to present it. */
interface Stored {
  refresh_token: string;
  oauth: boolean;
}

/** What a code flow keeps between the redirect and the callback. */
interface Flow {
  nonce: string;
  verifier: string;
  redirectUri: string;
}

/** Messages between the tabs of one storage key. */
type Message = { type: "session"; session: Session } | { type: "signed_out" };

/** Options of createAuthorizeUrl and signInWithRedirect. */
export interface AuthorizeOptions {
  /** Scopes; default the client's scope. */
  scope?: string;
  /** `login` makes latch ask for the password even with a browser session. */
  prompt?: string;
  /** Prefills the email on latch's login page. */
  loginHint?: string;
  /** Extra query parameters. */
  params?: Record<string, string>;
}

const defaultScope = "openid email offline_access";

/**
 * How long a refresh waits for a pair another tab announced, in ms: the
 * channel delivers within milliseconds; past this the tab rotates itself.
 */
const broadcastWait = 150;

/**
 * LatchClient signs a user in against latch and keeps their token pair
 * fresh: the access token in memory, the refresh token in the storage the
 * app chose. Refreshes are single-flight within the page and, with Web
 * Locks, across the origin's tabs: one tab at a time presents the
 * refresh token, and it always presents the newest one persisted, so no
 * tab ever trips latch's reuse detection by presenting a token another tab
 * already rotated.
 */
export class LatchClient {
  private readonly base: string;
  private readonly issuer: string;
  private readonly clientId: string | undefined;
  private readonly redirectUri: string | undefined;
  private readonly scope: string;
  private readonly storage: TokenStorage;
  private readonly flowStorage: TokenStorage;
  private readonly key: string;
  private readonly margin: number;
  private readonly autoRefresh: boolean;
  private readonly crossTab: boolean;
  private readonly fetchImpl: typeof fetch;
  private readonly locks: LockManagerLike | null;
  private readonly channel: ChannelLike | null;
  private readonly cryptoImpl: Crypto | undefined;
  private readonly now: () => number;
  private readonly webauthn: WebAuthnLike;

  private session: Session | null = null;
  /** Bumped on every change of session, so late answers can tell they are late. */
  private generation = 0;
  private inflight: Promise<Session> | null = null;
  private mutex: Promise<unknown> = Promise.resolve();
  private readonly listeners = new Set<AuthListener>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;
  /** Refreshes waiting for another tab's pair, by its refresh token. */
  private readonly arrivals = new Map<string, Set<() => void>>();

  constructor(options: LatchClientOptions) {
    if (!options || typeof options.url !== "string" || options.url === "") {
      throw new TypeError("latch: options.url is required");
    }
    this.base = options.url.replace(/\/+$/, "");
    this.issuer = (options.issuer ?? this.base).replace(/\/+$/, "");
    this.clientId = options.clientId;
    this.redirectUri = options.redirectUri;
    this.scope = options.scope ?? defaultScope;
    this.storage = options.storage ?? memoryStorage();
    this.flowStorage = options.flowStorage ?? browserSessionStorage() ?? memoryStorage();
    this.key = options.storageKey ?? "latch:" + (options.clientId ?? this.base);
    this.margin = Math.max(0, options.refreshMargin ?? 30);
    this.autoRefresh = options.autoRefresh ?? true;
    this.crossTab = options.crossTab ?? true;
    const f = options.fetch ?? globalThis.fetch;
    if (typeof f !== "function") throw new TypeError("latch: no fetch available; pass options.fetch");
    // Calling a browser's fetch detached from window throws "Illegal invocation".
    this.fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.cryptoImpl = options.crypto ?? globalThis.crypto;
    this.now = options.now ?? Date.now;
    this.webauthn = options.webauthn ?? browserWebAuthn;

    const nav = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator;
    this.locks = !this.crossTab ? null : options.locks === undefined ? (nav?.locks ?? null) : options.locks;
    let open = options.channel;
    if (open === undefined && typeof BroadcastChannel === "function") {
      open = (name) => new BroadcastChannel(name) as unknown as ChannelLike;
    }
    this.channel = this.crossTab && open ? open(this.key) : null;
    this.channel?.addEventListener("message", (ev) => {
      void this.onMessage(ev.data).catch(report);
    });
  }

  // ---- state -------------------------------------------------------------

  /**
   * onAuthStateChange calls listener on SIGNED_IN (a login, a code flow
   * callback, a session restored from storage or adopted from another
   * tab), TOKEN_REFRESHED, USER_UPDATED (updateUser, in this page) and
   * SIGNED_OUT (logout here or in another tab, or the session ended at
   * latch). It answers the function that stops it.
   */
  onAuthStateChange(listener: AuthListener): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  /**
   * getSession answers a session whose access token is not about to expire,
   * refreshing first when it is (or restoring it from storage on a fresh
   * page), or null when there is no session.
   */
  async getSession(): Promise<Session | null> {
    try {
      return await this.freshSession();
    } catch (e) {
      if (e instanceof NotSignedInError) return null;
      throw e;
    }
  }

  /** getAccessToken answers a fresh access token, or throws NotSignedInError. */
  async getAccessToken(): Promise<string> {
    return (await this.freshSession()).accessToken;
  }

  /**
   * refresh rotates the refresh token now (even if the access token is
   * fresh). Concurrent calls, in this page and in the origin's other tabs,
   * share one rotation: a call that finds the pair rotated by someone else
   * since it began takes that pair instead of rotating again.
   */
  refresh(): Promise<Session> {
    return this.refreshFrom(this.session?.refreshToken ?? null, true);
  }

  /**
   * fetch calls input with the access token as a Bearer header. When the
   * answer is 401 `token_expired` (the access token expired in flight, or
   * the clocks disagree), it refreshes and tries once more.
   */
  async fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
    const s = await this.freshSession();
    const base = new Request(input, init);
    const send = (token: string): Promise<Response> => {
      const r = base.clone();
      r.headers.set("Authorization", `Bearer ${token}`);
      return this.fetchImpl(r);
    };
    const res = await send(s.accessToken);
    if (res.status !== 401 || (await problemCode(res)) !== "token_expired") return res;
    const fresh = await this.refreshFrom(s.refreshToken, true);
    return send(fresh.accessToken);
  }

  /** getUser answers GET /v1/me. */
  async getUser(): Promise<User> {
    const res = await this.fetch(this.base + "/v1/me", { headers: { Accept: "application/json" } });
    if (!res.ok) throw await errorFromResponse(res);
    return (await res.json()) as User;
  }

  /**
   * updateUser changes what the signed-in user may change of their own
   * account: user_metadata, a JSON object replaced whole ({} clears it;
   * latch keeps at most 4 KiB). It answers the user as latch now has it,
   * puts it in the session and announces USER_UPDATED. Other tabs see it
   * at their next getUser or token refresh.
   */
  async updateUser(changes: { user_metadata: Record<string, unknown> }): Promise<User> {
    const user = (await this.authedJson("PATCH", "/v1/me", { user_metadata: changes.user_metadata })) as User;
    const s = this.session;
    if (s) {
      s.user = user;
      this.emit("USER_UPDATED", s);
    }
    return user;
  }

  /** close stops the refresh timer and leaves the tabs' channel. */
  close(): void {
    this.closed = true;
    this.stopTimer();
    this.channel?.close();
  }

  // ---- first-party login -----------------------------------------------

  /**
   * signInWithPassword logs in through POST /v1/login. For an account with
   * a second factor it throws MfaRequiredError: pass its mfaToken and the
   * user's code to verifyMfa.
   */
  async signInWithPassword(credentials: { email: string; password: string }): Promise<Session> {
    const body = await this.postJson("/v1/login", { email: credentials.email, password: credentials.password });
    return this.signIn(tokenSession(body, false, this.now()));
  }

  /** verifyMfa completes a login with a TOTP code or a recovery code (POST /v1/login/mfa). */
  async verifyMfa(step: { mfaToken: string; code: string } | { mfaToken: string; recoveryCode: string }): Promise<Session> {
    const payload: Record<string, string> = { mfa_token: step.mfaToken };
    if ("code" in step) payload["code"] = step.code;
    else payload["recovery_code"] = step.recoveryCode;
    const body = await this.postJson("/v1/login/mfa", payload);
    return this.signIn(tokenSession(body, false, this.now()));
  }

  /**
   * signInWithPasskey signs in with a passkey alone: the browser offers the
   * passkeys it holds for latch's relying party, and the one chosen names
   * the account (POST /v1/passkeys/login/begin and /finish).
   */
  async signInWithPasskey(): Promise<Session> {
    return this.passkeyLogin({});
  }

  /**
   * verifyMfaWithPasskey completes a password sign-in whose
   * MfaRequiredError lists "passkey" in methods: one of that account's
   * passkeys is the second factor.
   */
  async verifyMfaWithPasskey(step: { mfaToken: string }): Promise<Session> {
    return this.passkeyLogin({ mfa_token: step.mfaToken });
  }

  /**
   * addPasskey registers a passkey for the signed-in user. latch asks for
   * the password (and, when the account has a second factor, a current
   * code) so that a stolen access token alone cannot add one. The first
   * factor of an account comes with recovery codes, shown once.
   */
  async addPasskey(step: { password: string; code?: string; name?: string }): Promise<Passkey & { recovery_codes?: string[] }> {
    this.checkWebAuthn();
    const begin: Record<string, string> = { password: step.password };
    if (step.code !== undefined) begin["code"] = step.code;
    const options = await this.authedJson("POST", "/v1/passkeys/register/begin", begin);
    const credential = await this.webauthn.create(options["publicKey"]);
    return (await this.authedJson("POST", "/v1/passkeys/register/finish", {
      challenge_id: options["challenge_id"],
      name: step.name ?? "",
      credential,
    })) as Passkey & { recovery_codes?: string[] };
  }

  private async passkeyLogin(begin: Record<string, string>): Promise<Session> {
    this.checkWebAuthn();
    const options = await this.postJson("/v1/passkeys/login/begin", begin);
    const credential = await this.webauthn.get(options["publicKey"]);
    const body = await this.postJson("/v1/passkeys/login/finish", { ...begin, challenge_id: options["challenge_id"], credential });
    return this.signIn(tokenSession(body, false, this.now()));
  }

  /** checkWebAuthn throws before any request when the browser has no WebAuthn to use. */
  private checkWebAuthn(): void {
    if (this.webauthn === browserWebAuthn) webAuthnAPI();
  }

  /**
   * authedJson sends body as JSON to path with the session's access token
   * (through fetch: refreshed when expired) and answers the JSON reply.
   */
  private async authedJson(method: string, path: string, body: unknown): Promise<Record<string, unknown>> {
    const res = await this.fetch(this.base + path, {
      method,
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw await errorFromResponse(res);
    return (await res.json()) as Record<string, unknown>;
  }

  /**
   * signOut ends the session at latch (POST /v1/logout while the access
   * token is live, else RFC 7009 revocation of the refresh token) and
   * forgets it here and in the origin's other tabs. The local session is
   * forgotten even when latch cannot be reached; that error is thrown after.
   */
  async signOut(): Promise<void> {
    await this.withLock(async () => {
      const stored = await this.readStored();
      const s = this.session;
      let failure: unknown;
      try {
        if (stored && !stored.oauth && s && s.refreshToken === stored.refresh_token && this.now() < s.expiresAt) {
          await this.postJson("/v1/logout", { refresh_token: stored.refresh_token }, s.accessToken);
        } else if (stored) {
          const form: Record<string, string> = { token: stored.refresh_token, token_type_hint: "refresh_token" };
          if (this.clientId) form["client_id"] = this.clientId;
          await this.postForm("/oauth/revoke", form);
        }
      } catch (e) {
        // Already ended at latch is what we wanted.
        if (!(e instanceof LatchError && (e.status === 401 || e.code === "invalid_grant"))) failure = e;
      }
      await this.forget(true);
      if (failure !== undefined) throw failure;
    });
  }

  // ---- authorization code flow (OpenID Connect, PKCE) ------------------

  /**
   * createAuthorizeUrl answers the /oauth/authorize URL that starts a code
   * flow: a fresh state, nonce and PKCE verifier (S256), kept in
   * flowStorage until handleRedirectCallback uses them once.
   */
  async createAuthorizeUrl(options: AuthorizeOptions = {}): Promise<string> {
    const clientId = this.need(this.clientId, "clientId");
    const redirectUri = this.need(this.redirectUri, "redirectUri");
    const crypto = this.need(this.cryptoImpl, "crypto (WebCrypto)");
    const state = randomToken(crypto);
    const flow: Flow = { nonce: randomToken(crypto), verifier: randomToken(crypto), redirectUri };
    const u = new URL(this.base + "/oauth/authorize");
    const q = u.searchParams;
    q.set("response_type", "code");
    q.set("client_id", clientId);
    q.set("redirect_uri", redirectUri);
    q.set("scope", options.scope ?? this.scope);
    q.set("state", state);
    q.set("nonce", flow.nonce);
    q.set("code_challenge", await s256(crypto, flow.verifier));
    q.set("code_challenge_method", "S256");
    if (options.prompt) q.set("prompt", options.prompt);
    if (options.loginHint) q.set("login_hint", options.loginHint);
    for (const [k, v] of Object.entries(options.params ?? {})) q.set(k, v);
    await this.flowStorage.setItem(this.flowKey(state), JSON.stringify(flow));
    return u.toString();
  }

  /** signInWithRedirect sends the browser to latch's login (see createAuthorizeUrl). */
  async signInWithRedirect(options: AuthorizeOptions = {}): Promise<void> {
    const url = await this.createAuthorizeUrl(options);
    const loc = (globalThis as { location?: { assign(u: string): void } }).location;
    if (!loc) throw new TypeError("latch: no window.location; use createAuthorizeUrl");
    loc.assign(url);
  }

  /**
   * handleRedirectCallback finishes a code flow at the redirect URI: it
   * checks `state` against this browser's pending flows (each usable once)
   * and `iss` against the issuer (RFC 9207, so a response from another
   * server is refused), exchanges the code with the PKCE verifier at
   * /oauth/token, checks the ID token's iss, aud and nonce, and signs in.
   * The app should then drop the query from the address bar
   * (history.replaceState).
   */
  async handleRedirectCallback(url?: string | URL): Promise<Session> {
    const clientId = this.need(this.clientId, "clientId");
    const href = url ?? (globalThis as { location?: { href: string } }).location?.href;
    if (href === undefined) throw new TypeError("latch: pass the callback URL");
    const q = new URL(href).searchParams;
    const state = q.get("state");
    if (!state) throw new CallbackError("state_mismatch", "the authorization response has no state");
    const raw = await this.flowStorage.getItem(this.flowKey(state));
    if (raw === null) {
      throw new CallbackError("state_mismatch", "no sign-in with this state is pending here (used already, or started elsewhere)");
    }
    await this.flowStorage.removeItem(this.flowKey(state));
    const flow = parseFlow(raw);
    if (q.get("iss") !== this.issuer) {
      throw new CallbackError("issuer_mismatch", `the authorization response's iss is ${JSON.stringify(q.get("iss"))}, want ${JSON.stringify(this.issuer)}`);
    }
    const error = q.get("error");
    if (error) throw new OAuthError(error, q.get("error_description") ?? undefined, 0);
    const code = q.get("code");
    if (!code) throw new CallbackError("invalid_response", "the authorization response has neither code nor error");
    const body = await this.postForm("/oauth/token", {
      grant_type: "authorization_code",
      code,
      redirect_uri: flow.redirectUri,
      client_id: clientId,
      code_verifier: flow.verifier,
    });
    const s = tokenSession(body, true, this.now());
    if (s.idToken !== undefined) this.checkIdToken(s.idToken, clientId, flow.nonce);
    return this.signIn(s);
  }

  // ---- internals ---------------------------------------------------------

  private need<T>(v: T | undefined, what: string): T {
    if (v === undefined) throw new TypeError(`latch: options.${what} is required for this call`);
    return v;
  }

  private flowKey(state: string): string {
    return `${this.key}:flow:${state}`;
  }

  private checkIdToken(idToken: string, clientId: string, nonce: string): void {
    // The ID token came straight from the token endpoint over TLS, so its
    // signature need not be checked (OIDC Core 3.1.3.7 step 6); its claims
    // still must belong to this flow.
    let claims: Record<string, unknown>;
    try {
      claims = decodeJwtPayload(idToken);
    } catch {
      throw new CallbackError("invalid_response", "the ID token is not a JWT");
    }
    if (claims["iss"] !== this.issuer) throw new CallbackError("issuer_mismatch", "the ID token's iss is not the issuer");
    const aud = claims["aud"];
    if (!(aud === clientId || (Array.isArray(aud) && aud.includes(clientId)))) {
      throw new CallbackError("invalid_response", "the ID token is not for this client");
    }
    if (claims["nonce"] !== nonce) throw new CallbackError("nonce_mismatch", "the ID token's nonce is not this flow's");
  }

  private async freshSession(): Promise<Session> {
    const s = this.session;
    if (s && !this.expiring(s)) return s;
    return this.refreshFrom(s?.refreshToken ?? null, false);
  }

  /** expiring: the access token is within the refresh margin of its expiry. */
  private expiring(s: Session): boolean {
    const ahead = Math.min(this.margin, s.expiresIn / 2) * 1000;
    return this.now() >= s.expiresAt - ahead;
  }

  /**
   * refreshFrom rotates the pair unless it already moved on since the
   * caller saw refresh token `seen`. One rotation at a time per page.
   */
  private refreshFrom(seen: string | null, force: boolean): Promise<Session> {
    const running = this.inflight;
    if (running) {
      if (!force) return running;
      // The running call may answer the very pair this caller saw refused
      // (it began from an older one, and takes whatever moved on since):
      // a forced caller needs a pair past `seen`, so it rotates once more.
      return running.then((s) => (s.refreshToken !== seen ? s : this.refreshFrom(seen, true)));
    }
    const p = this.withLock(() => this.refreshLocked(seen, force));
    this.inflight = p;
    const done = () => {
      if (this.inflight === p) this.inflight = null;
    };
    p.then(done, done);
    return p;
  }

  private async refreshLocked(seen: string | null, force: boolean): Promise<Session> {
    // Inside the lock the persisted token is the truth: another tab may
    // have rotated it (and persisted the successor) since this page last
    // looked, and presenting the old one again would be reuse.
    const cur = this.session;
    const stored = this.crossTab || !cur ? await this.readStored() : { refresh_token: cur.refreshToken, oauth: cur.oauth };
    if (!stored) {
      if (cur) await this.forget(false);
      throw new NotSignedInError();
    }
    if (cur && cur.refreshToken !== stored.refresh_token && this.channel) {
      // Another tab rotated since this page last heard, and its pair is
      // on its way over the channel: wait a moment for it rather than
      // rotate once more. If it does not come, rotating the persisted
      // token is still right, only one request more.
      await this.pairArrival(stored.refresh_token, broadcastWait);
    }
    const latest = this.session;
    if (latest && latest.refreshToken === stored.refresh_token) {
      // Someone (another tab's broadcast, or an earlier call here) moved
      // the pair on since the caller looked: take it.
      // A pair close to its expiry is not taken for a forced caller: the
      // server's clock may be ahead, and the caller was just refused.
      if (latest.refreshToken !== seen && !this.expiring(latest)) return latest;
      if (!force && !this.expiring(latest)) return latest;
    }
    let next: Session;
    try {
      next = await this.rotate(stored);
    } catch (e) {
      if (e instanceof LatchError && refusedRefresh(e)) {
        await this.forget(true);
        throw new SessionEndedError(e.message, e.status, e.body);
      }
      throw e;
    }
    const prev = latest ?? cur;
    if (next.user === undefined && prev?.user !== undefined) next.user = prev.user;
    if (next.idToken === undefined && prev?.idToken !== undefined) next.idToken = prev.idToken;
    await this.writeStored(next);
    this.setSession(next, cur ? "TOKEN_REFRESHED" : "SIGNED_IN");
    return next;
  }

  private async rotate(stored: Stored): Promise<Session> {
    if (stored.oauth) {
      const form: Record<string, string> = { grant_type: "refresh_token", refresh_token: stored.refresh_token };
      if (this.clientId) form["client_id"] = this.clientId;
      return tokenSession(await this.postForm("/oauth/token", form), true, this.now(), stored.refresh_token);
    }
    const body = await this.postJson("/v1/token/refresh", { refresh_token: stored.refresh_token });
    return tokenSession(body, false, this.now());
  }

  private signIn(s: Session): Promise<Session> {
    return this.withLock(async () => {
      await this.writeStored(s);
      this.setSession(s, "SIGNED_IN");
      return s;
    });
  }

  /** setSession adopts s, tells the listeners, and tells the other tabs. */
  private setSession(s: Session, event: AuthEvent, share = true): void {
    this.session = s;
    this.generation++;
    this.schedule(s);
    if (share) this.post({ type: "session", session: s });
    this.emit(event, s);
  }

  /** forget drops the session here (and, when persist, in storage too). */
  private async forget(persist: boolean): Promise<void> {
    if (persist) await this.storage.removeItem(this.storageKey());
    const had = this.session !== null;
    this.session = null;
    this.generation++;
    this.stopTimer();
    if (persist) this.post({ type: "signed_out" });
    if (had || persist) this.emit("SIGNED_OUT", null);
  }

  private async onMessage(data: unknown): Promise<void> {
    const m = parseMessage(data);
    if (!m || this.closed) return;
    const gen = this.generation;
    const stored = await this.readStored();
    // Anything that changed here while storage was read is newer.
    if (gen !== this.generation) return;
    if (m.type === "signed_out") {
      if (!stored && this.session) await this.forget(false);
      return;
    }
    // Only the pair whose refresh token is the persisted one is current;
    // an older message, or one of another storage, is ignored.
    if (!stored || stored.refresh_token !== m.session.refreshToken) return;
    if (this.session?.refreshToken === m.session.refreshToken) return;
    this.setSession(m.session, this.session ? "TOKEN_REFRESHED" : "SIGNED_IN", false);
    for (const arrived of [...(this.arrivals.get(m.session.refreshToken) ?? [])]) arrived();
  }

  /**
   * pairArrival resolves when the pair with refresh token rt has come over
   * the channel and been taken, or after ms milliseconds.
   */
  private pairArrival(rt: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      let waiting = this.arrivals.get(rt);
      if (!waiting) this.arrivals.set(rt, (waiting = new Set()));
      const set = waiting;
      const done = () => {
        clearTimeout(timer);
        set.delete(done);
        if (set.size === 0) this.arrivals.delete(rt);
        resolve();
      };
      const timer = setTimeout(done, ms);
      set.add(done);
    });
  }

  private post(m: Message): void {
    try {
      this.channel?.postMessage(m);
    } catch (e) {
      report(e);
    }
  }

  private emit(event: AuthEvent, s: Session | null): void {
    for (const l of [...this.listeners]) {
      try {
        l(event, s);
      } catch (e) {
        report(e);
      }
    }
  }

  private schedule(s: Session): void {
    this.stopTimer();
    if (!this.autoRefresh || this.closed) return;
    const ahead = Math.min(this.margin, s.expiresIn / 2) * 1000;
    const delay = Math.max(0, s.expiresAt - ahead - this.now());
    const t = setTimeout(() => {
      void this.freshSession().catch(() => undefined);
    }, delay);
    (t as { unref?: () => void }).unref?.();
    this.timer = t;
  }

  private stopTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /**
   * withLock runs fn alone: across the origin's tabs through the Web Lock
   * named after the storage key, else within this page.
   */
  private withLock<T>(fn: () => Promise<T>): Promise<T> {
    if (this.locks) return this.locks.request(this.key + ":refresh", () => fn());
    const run = this.mutex.then(fn, fn);
    this.mutex = run.catch(() => undefined);
    return run;
  }

  private storageKey(): string {
    return this.key + ":session";
  }

  private async readStored(): Promise<Stored | null> {
    const raw = await this.storage.getItem(this.storageKey());
    if (raw === null) return null;
    try {
      const v = JSON.parse(raw) as Partial<Stored>;
      if (typeof v.refresh_token === "string" && v.refresh_token !== "") {
        return { refresh_token: v.refresh_token, oauth: v.oauth === true };
      }
    } catch {
      // Unreadable: as good as none.
    }
    return null;
  }

  private async writeStored(s: Session): Promise<void> {
    const v: Stored = { refresh_token: s.refreshToken, oauth: s.oauth };
    await this.storage.setItem(this.storageKey(), JSON.stringify(v));
  }

  private async postJson(path: string, body: unknown, bearer?: string): Promise<Record<string, unknown>> {
    const headers: Record<string, string> = { "Content-Type": "application/json", Accept: "application/json" };
    if (bearer) headers["Authorization"] = `Bearer ${bearer}`;
    return this.send(path, { method: "POST", headers, body: JSON.stringify(body) });
  }

  private async postForm(path: string, form: Record<string, string>): Promise<Record<string, unknown>> {
    return this.send(path, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
      body: new URLSearchParams(form).toString(),
    });
  }

  private async send(path: string, init: RequestInit): Promise<Record<string, unknown>> {
    const res = await this.fetchImpl(this.base + path, { ...init, credentials: "omit" });
    if (!res.ok) throw await errorFromResponse(res);
    const text = await res.text();
    if (text === "") return {};
    try {
      const v: unknown = JSON.parse(text);
      if (v !== null && typeof v === "object" && !Array.isArray(v)) return v as Record<string, unknown>;
    } catch {
      // fall through
    }
    throw new LatchError("invalid_response", `latch answered ${path} with a body that is not a JSON object`, res.status);
  }
}

/** refusedRefresh: latch refused the refresh token itself, so the session is over. */
function refusedRefresh(e: LatchError): boolean {
  return e.status === 401 || e.code === "invalid_grant" || e.code === "account_disabled";
}

/** tokenSession reads a token answer (latch's, or RFC 6749 §5.1). */
/** browserWebAuthn is WebAuthnLike on navigator.credentials. */
const browserWebAuthn: WebAuthnLike = {
  async create(publicKey) {
    const pkc = webAuthnAPI();
    const cred = await pkc.credentials.create({ publicKey: pkc.PKC.parseCreationOptionsFromJSON(publicKey) });
    if (!cred) throw new LatchError("webauthn_cancelled", "no passkey was created");
    return cred.toJSON();
  },
  async get(publicKey) {
    const pkc = webAuthnAPI();
    const cred = await pkc.credentials.get({ publicKey: pkc.PKC.parseRequestOptionsFromJSON(publicKey) });
    if (!cred) throw new LatchError("webauthn_cancelled", "no passkey was chosen");
    return cred.toJSON();
  },
};

interface JSONCredential {
  toJSON(): unknown;
}

/** webAuthnAPI finds the browser's WebAuthn with the JSON helpers (2024 browsers on). */
function webAuthnAPI(): {
  credentials: { create(o: unknown): Promise<JSONCredential | null>; get(o: unknown): Promise<JSONCredential | null> };
  PKC: { parseCreationOptionsFromJSON(o: unknown): unknown; parseRequestOptionsFromJSON(o: unknown): unknown };
} {
  const g = globalThis as {
    navigator?: { credentials?: unknown };
    PublicKeyCredential?: { parseCreationOptionsFromJSON?: unknown; parseRequestOptionsFromJSON?: unknown };
  };
  const PKC = g.PublicKeyCredential;
  if (!g.navigator?.credentials || typeof PKC?.parseRequestOptionsFromJSON !== "function" || typeof PKC.parseCreationOptionsFromJSON !== "function") {
    throw new LatchError("webauthn_unavailable", "this browser has no WebAuthn with JSON options; pass options.webauthn");
  }
  return { credentials: g.navigator.credentials, PKC } as ReturnType<typeof webAuthnAPI>;
}

function tokenSession(body: Record<string, unknown>, oauth: boolean, now: number, keepRefresh?: string): Session {
  const at = body["access_token"];
  const rt = body["refresh_token"] ?? keepRefresh;
  if (typeof at !== "string" || at === "") throw new LatchError("invalid_response", "the token answer has no access_token");
  if (typeof rt !== "string" || rt === "") {
    throw new LatchError("invalid_response", "the token answer has no refresh_token (ask for scope offline_access)");
  }
  const ei = body["expires_in"];
  const expiresIn = typeof ei === "number" && ei > 0 ? ei : 900;
  const s: Session = {
    accessToken: at,
    refreshToken: rt,
    tokenType: typeof body["token_type"] === "string" ? body["token_type"] : "Bearer",
    expiresIn,
    expiresAt: now + expiresIn * 1000,
    oauth,
  };
  const user = body["user"];
  if (user !== null && typeof user === "object") s.user = user as User;
  if (typeof body["id_token"] === "string") s.idToken = body["id_token"];
  return s;
}

function parseFlow(raw: string): Flow {
  try {
    const v = JSON.parse(raw) as Partial<Flow>;
    if (typeof v.nonce === "string" && typeof v.verifier === "string" && typeof v.redirectUri === "string") {
      return { nonce: v.nonce, verifier: v.verifier, redirectUri: v.redirectUri };
    }
  } catch {
    // fall through
  }
  throw new CallbackError("state_mismatch", "the pending sign-in's stored state is unreadable");
}

function parseMessage(data: unknown): Message | null {
  if (data === null || typeof data !== "object") return null;
  const m = data as { type?: unknown; session?: Partial<Session> };
  if (m.type === "signed_out") return { type: "signed_out" };
  const s = m.session;
  if (
    m.type === "session" && s && typeof s.accessToken === "string" && typeof s.refreshToken === "string" &&
    typeof s.expiresAt === "number" && typeof s.expiresIn === "number"
  ) {
    return { type: "session", session: s as Session };
  }
  return null;
}

/** problemCode reads the `code` of a problem+json answer without consuming it. */
async function problemCode(res: Response): Promise<string | undefined> {
  try {
    const v = JSON.parse(await res.clone().text()) as { code?: unknown };
    return typeof v.code === "string" ? v.code : undefined;
  } catch {
    return undefined;
  }
}

/** decodeJwtPayload answers a JWT's claims, unverified: for display and the checks above. */
export function decodeJwtPayload(jwt: string): Record<string, unknown> {
  const parts = jwt.split(".");
  if (parts.length !== 3 || parts[1] === undefined) throw new TypeError("not a compact JWS");
  const v: unknown = JSON.parse(new TextDecoder().decode(base64urlDecode(parts[1])));
  if (v === null || typeof v !== "object" || Array.isArray(v)) throw new TypeError("JWT payload is not an object");
  return v as Record<string, unknown>;
}

/** browserSessionStorage is window.sessionStorage, or undefined where there is none or it is blocked. */
function browserSessionStorage(): TokenStorage | undefined {
  try {
    // Reading the property throws in sandboxed frames and with storage blocked.
    return (globalThis as { sessionStorage?: TokenStorage }).sessionStorage;
  } catch {
    return undefined;
  }
}

function report(e: unknown): void {
  const r = (globalThis as { reportError?: (e: unknown) => void }).reportError;
  if (r) r(e);
  else console.error(e);
}
