import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  CallbackError,
  LatchClient,
  LatchError,
  MfaRequiredError,
  NotSignedInError,
  OAuthError,
  RateLimitedError,
  SessionEndedError,
  errorFromResponse,
  memoryStorage,
  s256,
  type AuthEvent,
  type LatchClientOptions,
  type TokenStorage,
} from "../src/index.js";
import { Clock, FakeHub, FakeLatch, FakeLocks, ISSUER, json, problem } from "./fakes.js";

const PW = "correct horse";
const APP = "https://app.example.test/callback";

/** world is one browser: latch, a clock, shared storage, locks and a channel hub. */
function world(opts: { asyncStorage?: boolean } = {}) {
  const clock = new Clock();
  const latch = new FakeLatch(clock.now);
  // Stands for IndexedDB: shared by the tabs, and coherent between them.
  const storage = opts.asyncStorage ? slowStorage(memoryStorage()) : memoryStorage();
  const flowStorage = memoryStorage();
  const locks = new FakeLocks();
  const hub = new FakeHub();
  const clients: LatchClient[] = [];
  const tab = (opts: Partial<LatchClientOptions> = {}): LatchClient => {
    const c = new LatchClient({
      url: ISSUER + "/",
      clientId: "spa",
      redirectUri: APP,
      storage,
      flowStorage,
      fetch: latch.fetch,
      locks,
      channel: hub.open,
      now: clock.now,
      autoRefresh: false,
      ...opts,
    });
    clients.push(c);
    return c;
  };
  const close = () => clients.forEach((c) => c.close());
  return { clock, latch, storage, flowStorage, locks, hub, tab, close };
}

function events(c: LatchClient): AuthEvent[] {
  const out: AuthEvent[] = [];
  c.onAuthStateChange((e) => out.push(e));
  return out;
}

/** settle lets queued channel messages arrive. */
const settle = () => new Promise((r) => setTimeout(r, 5));

describe("password login", () => {
  it("signs in, announces SIGNED_IN and persists only the refresh token", async () => {
    const w = world();
    const c = w.tab();
    const ev = events(c);
    const s = await c.signInWithPassword({ email: "kate@example.com", password: PW });
    assert.equal(s.user?.email, "kate@example.com");
    assert.deepEqual(ev, ["SIGNED_IN"]);
    assert.equal(await c.getAccessToken(), s.accessToken);
    const login = w.latch.calls.find((x) => x.path === "/v1/login");
    assert.deepEqual(JSON.parse(login?.body ?? ""), { email: "kate@example.com", password: PW });
    const stored = [...(await storedValues(w.storage))].join("");
    assert.match(stored, new RegExp(s.refreshToken));
    assert.doesNotMatch(stored, new RegExp(s.accessToken), "the access token stays in memory");
    w.close();
  });

  it("throws typed errors with latch's code", async () => {
    const w = world();
    const c = w.tab();
    await assert.rejects(c.signInWithPassword({ email: "kate@example.com", password: "wrong" }), (e: unknown) => {
      assert.ok(e instanceof LatchError);
      assert.equal(e.code, "invalid_credentials");
      assert.equal(e.status, 401);
      assert.equal(e.message, "invalid_credentials detail");
      return true;
    });
    w.latch.override.set("/v1/login", () => problem(429, "rate_limited", { "Retry-After": "7" }));
    await assert.rejects(c.signInWithPassword({ email: "kate@example.com", password: PW }), (e: unknown) => {
      assert.ok(e instanceof RateLimitedError);
      assert.equal(e.code, "rate_limited");
      assert.equal(e.retryAfter, 7);
      return true;
    });
    assert.equal(await c.getSession(), null);
    w.close();
  });

  it("completes a second factor with verifyMfa", async () => {
    const w = world();
    const c = w.tab();
    const err = await c.signInWithPassword({ email: "mfa@example.com", password: PW }).then(
      () => assert.fail("want mfa_required"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof MfaRequiredError);
    assert.equal(err.code, "mfa_required");
    assert.deepEqual(err.methods, ["totp", "recovery_code"]);
    await assert.rejects(c.verifyMfa({ mfaToken: err.mfaToken, code: "000000" }), { code: "invalid_credentials" });
    // The fake's mfa tokens are single-use, like latch's.
    const again = (await c.signInWithPassword({ email: "mfa@example.com", password: PW }).catch((e: unknown) => e)) as MfaRequiredError;
    const s = await c.verifyMfa({ mfaToken: again.mfaToken, recoveryCode: "rc-1" });
    assert.equal(await c.getAccessToken(), s.accessToken);
    w.close();
  });
});

describe("refresh", () => {
  it("is single-flight within a page, with and without Web Locks", async () => {
    for (const locks of [undefined, null]) {
      const w = world();
      const c = w.tab(locks === null ? { locks: null } : {});
      await c.signInWithPassword({ email: "kate@example.com", password: PW });
      const all = await Promise.all(Array.from({ length: 10 }, () => c.refresh()));
      assert.equal(w.latch.rotations, 1, "ten concurrent refreshes rotate once");
      assert.ok(all.every((s) => s.accessToken === all[0]?.accessToken));
      w.close();
    }
  });

  it("refreshes ahead of expiry, not before", async () => {
    const w = world();
    const c = w.tab({ refreshMargin: 30 });
    const ev = events(c);
    const s = await c.signInWithPassword({ email: "kate@example.com", password: PW });
    w.clock.advance(900 - 31);
    assert.equal(await c.getAccessToken(), s.accessToken);
    assert.equal(w.latch.rotations, 0);
    w.clock.advance(2);
    const next = await c.getAccessToken();
    assert.notEqual(next, s.accessToken);
    assert.equal(w.latch.rotations, 1);
    assert.deepEqual(ev, ["SIGNED_IN", "TOKEN_REFRESHED"]);
    w.close();
  });

  it("keeps the margin under half the lifetime of short tokens", async () => {
    const w = world();
    w.latch.accessTTL = 2;
    const c = w.tab({ refreshMargin: 30 });
    const s = await c.signInWithPassword({ email: "kate@example.com", password: PW });
    w.clock.advance(0.9);
    assert.equal(await c.getAccessToken(), s.accessToken, "a 2 s token is fresh for its first second");
    w.clock.advance(0.2);
    assert.notEqual(await c.getAccessToken(), s.accessToken);
    w.close();
  });

  it("restores a persisted session in a new page", async () => {
    const w = world();
    await w.tab().signInWithPassword({ email: "kate@example.com", password: PW });
    const fresh = w.tab();
    const ev = events(fresh);
    const s = await fresh.getSession();
    assert.ok(s);
    assert.equal(w.latch.rotations, 1);
    assert.deepEqual(ev, ["SIGNED_IN"]);
    w.close();
  });

  it("ends the session when latch refuses the refresh token", async () => {
    const w = world();
    const a = w.tab();
    const b = w.tab();
    const evB = events(b);
    await a.signInWithPassword({ email: "kate@example.com", password: PW });
    await settle();
    for (const s of w.latch.sessions) s.ended = true; // e.g. an admin's force logout
    const ev = events(a);
    await assert.rejects(a.refresh(), (e: unknown) => e instanceof SessionEndedError && e.code === "invalid_token");
    assert.deepEqual(ev, ["SIGNED_OUT"]);
    assert.deepEqual([...(await storedValues(w.storage))], []);
    await settle();
    assert.deepEqual(evB, ["SIGNED_IN", "SIGNED_OUT"]);
    await assert.rejects(a.getAccessToken(), NotSignedInError);
    w.close();
  });

  it("re-reads the persisted token inside the lock instead of presenting its own stale one", async () => {
    const w = world();
    // No channel: tab b never hears of a's rotation, only storage tells it.
    const a = w.tab({ channel: null });
    const b = w.tab({ channel: null });
    await a.signInWithPassword({ email: "kate@example.com", password: PW });
    await b.getSession();
    await a.refresh();
    await a.refresh();
    await b.refresh();
    assert.equal(w.latch.reuses, 0);
    assert.equal(w.latch.sessions[0]?.ended, false);
    w.close();
  });

  it("shares a rotation with the other tabs over the channel", async () => {
    const w = world();
    const a = w.tab();
    const b = w.tab();
    const evB = events(b);
    await a.signInWithPassword({ email: "kate@example.com", password: PW });
    await settle();
    assert.deepEqual(evB, ["SIGNED_IN"]);
    const s = await a.refresh();
    await settle();
    assert.deepEqual(evB, ["SIGNED_IN", "TOKEN_REFRESHED"]);
    const before = w.latch.rotations;
    assert.equal(await b.getAccessToken(), s.accessToken, "b took a's pair without a request");
    assert.equal(w.latch.rotations, before);
    w.close();
  });

  it("tabs whose tokens expire together rotate once", async () => {
    const w = world();
    w.hub.delay = 3;
    const tabs = [w.tab(), w.tab(), w.tab(), w.tab()];
    await tabs[0]?.signInWithPassword({ email: "kate@example.com", password: PW });
    await settle();
    w.clock.advance(890);
    const tokens = await Promise.all(tabs.map((t) => t.getAccessToken()));
    assert.equal(w.latch.rotations, 1, "the other tabs took the first tab's pair");
    assert.equal(new Set(tokens).size, 1);
    w.close();
  });

  it("ignores a stale pair announced after a newer one was persisted", async () => {
    const w = world();
    w.hub.delay = 20; // messages arrive late
    const a = w.tab();
    const b = w.tab();
    await a.signInWithPassword({ email: "kate@example.com", password: PW });
    await a.refresh();
    const newest = await a.refresh();
    await new Promise((r) => setTimeout(r, 40));
    assert.equal(await b.getAccessToken(), newest.accessToken);
    assert.equal(w.latch.reuses, 0);
    w.close();
  });

  it("four tabs refreshing at once in a loop never present a rotated token", async () => {
    for (const [delay, asyncStorage] of [[0, false], [3, false], [0, true]] as const) {
      const w = world({ asyncStorage });
      w.hub.delay = delay;
      w.latch.accessTTL = 2;
      const tabs = [w.tab(), w.tab(), w.tab(), w.tab()];
      await tabs[0]?.signInWithPassword({ email: "kate@example.com", password: PW });
      const errors: unknown[] = [];
      const seen = new Set<string>();
      // The tabs run each round at once; time jumps between rounds, so
      // that the pairs of one round expire before the next (which then
      // starts with every tab refreshing together) but never while a
      // request is on its way: a jump mid-request would expire any token,
      // however fresh, and say nothing about the tabs' coordination.
      for (let round = 0; round < 25; round++) {
        await Promise.all(
          tabs.map(async (t, i) => {
            try {
              const s = round % 2 === 0 ? await t.refresh() : await t.getSession();
              if (s) seen.add(s.accessToken);
              const res = await t.fetch(ISSUER + "/v1/me");
              assert.equal(res.status, 200, `tab ${i} round ${round}: /v1/me ${res.status}`);
            } catch (e) {
              errors.push(e);
            }
          }),
        );
        if (round % 5 !== 4) w.clock.advance(1.5);
      }
      assert.deepEqual(errors, []);
      assert.equal(w.latch.reuses, 0, "no refresh token was presented twice");
      assert.equal(w.latch.sessions.length, 1);
      assert.equal(w.latch.sessions[0]?.ended, false, "the session lives");
      // Each tab's 13 forced refreshes each need a pair newer than the call.
      assert.ok(w.latch.rotations >= 13, `rotations ${w.latch.rotations}`);
      assert.equal(w.locks.maxHeld, 1);
      w.close();
    }
  });

  it("control: without cross-tab coordination the same loop trips reuse detection", async () => {
    const w = world();
    const tabs = [w.tab({ crossTab: false }), w.tab({ crossTab: false }), w.tab({ crossTab: false }), w.tab({ crossTab: false })];
    await tabs[0]?.signInWithPassword({ email: "kate@example.com", password: PW });
    // Each tab restores the persisted session first (as a reloaded tab would).
    for (const t of tabs.slice(1)) await t.getSession().catch(() => null);
    const errors: unknown[] = [];
    await Promise.all(
      tabs.map(async (t) => {
        for (let round = 0; round < 5; round++) {
          try {
            await t.refresh();
          } catch (e) {
            errors.push(e);
          }
        }
      }),
    );
    assert.ok(w.latch.reuses >= 1, "reuse detected");
    assert.ok(errors.some((e) => e instanceof SessionEndedError));
    w.close();
  });
});

describe("fetch wrapper", () => {
  it("adds the bearer, and on 401 token_expired refreshes once and retries", async () => {
    const w = world();
    const c = w.tab({ refreshMargin: 0 });
    const s = await c.signInWithPassword({ email: "kate@example.com", password: PW });
    const r1 = await c.fetch(ISSUER + "/v1/me", { headers: { "X-Trace": "1" } });
    assert.equal(r1.status, 200);
    const call = w.latch.calls.at(-1);
    assert.equal(call?.headers.get("Authorization"), `Bearer ${s.accessToken}`);
    assert.equal(call?.headers.get("X-Trace"), "1");

    // The token expires in flight: latch says token_expired.
    w.latch.override.set("/v1/me", () => problem(401, "token_expired"));
    const r2 = await c.fetch(ISSUER + "/v1/me");
    assert.equal(r2.status, 200);
    assert.equal(w.latch.rotations, 1);
    assert.notEqual(w.latch.calls.at(-1)?.headers.get("Authorization"), `Bearer ${s.accessToken}`);

    // Any other 401 is the app's to handle: no refresh, no retry.
    const n = w.latch.count("/v1/me");
    w.latch.override.set("/v1/me", () => problem(401, "invalid_token"));
    const r3 = await c.fetch(ISSUER + "/v1/me");
    assert.equal(r3.status, 401);
    assert.equal(w.latch.count("/v1/me"), n + 1);
    assert.equal(w.latch.rotations, 1);
    w.close();
  });

  it("retries with a pair newer than the refused one, even while an older caller's refresh is running", async () => {
    const w = world();
    const b = w.tab();
    // x rotates without taking the tabs' lock, so that b's refresh can be
    // kept waiting for it while x moves the pair on.
    const x = w.tab({ locks: null });
    await x.signInWithPassword({ email: "kate@example.com", password: PW });
    const old = await b.getSession();
    assert.ok(old);
    await settle();
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const held = w.locks.request("latch:spa:refresh", () => gate);
    // b's refresh began from the pair b saw first, and waits for the lock.
    const waiting = b.refresh();
    const moved = await x.refresh();
    assert.notEqual(moved.accessToken, old.accessToken);
    await settle();
    assert.equal((await b.getSession())?.accessToken, moved.accessToken, "b heard of x's pair");
    // latch refuses that pair's access token as expired (its clock is
    // ahead of the page's): the retry needs a newer pair than this one,
    // not the running refresh's answer, which is this pair again.
    w.latch.override.set("/v1/me", () => problem(401, "token_expired"));
    const res = b.fetch(ISSUER + "/v1/me");
    await settle();
    open();
    await held;
    assert.equal((await waiting).accessToken, moved.accessToken, "the older caller takes the pair that moved on");
    assert.equal((await res).status, 200);
    const retried = w.latch.calls.filter((c) => c.path === "/v1/me").at(-1);
    assert.notEqual(retried?.headers.get("Authorization"), `Bearer ${moved.accessToken}`, "the retry presents a newer pair than the refused one");
    assert.equal(w.latch.reuses, 0);
    w.close();
  });

  it("replays a request body on the retry", async () => {
    const w = world();
    const seen: string[] = [];
    let first = true;
    const c = w.tab({
      fetch: async (input, init) => {
        const req = new Request(input, init);
        if (new URL(req.url).pathname === "/api/notes") {
          seen.push(await req.text());
          if (first) {
            first = false;
            return problem(401, "token_expired");
          }
          return json(201, {});
        }
        return w.latch.fetch(req);
      },
    });
    await c.signInWithPassword({ email: "kate@example.com", password: PW });
    const res = await c.fetch("https://api.example.test/api/notes", { method: "POST", body: '{"a":1}', headers: { "Content-Type": "application/json" } });
    assert.equal(res.status, 201);
    assert.deepEqual(seen, ['{"a":1}', '{"a":1}']);
    w.close();
  });

  it("throws NotSignedInError without a session", async () => {
    const w = world();
    await assert.rejects(w.tab().fetch(ISSUER + "/v1/me"), NotSignedInError);
    assert.equal(w.latch.count("/v1/me"), 0);
    w.close();
  });
});

describe("user", () => {
  it("reads the user with its metadata and replaces user_metadata with updateUser", async () => {
    const w = world();
    const c = w.tab();
    await c.signInWithPassword({ email: "kate@example.com", password: PW });
    const ev = events(c);
    const me = await c.getUser();
    assert.deepEqual(me.app_metadata, { plan: "pro" });
    assert.deepEqual(me.user_metadata, {});

    const u = await c.updateUser({ user_metadata: { theme: "dark", lang: "de" } });
    assert.deepEqual(u.user_metadata, { theme: "dark", lang: "de" });
    const call = w.latch.calls.at(-1);
    assert.equal(call?.method, "PATCH");
    assert.equal(call?.headers.get("Content-Type"), "application/json");
    assert.deepEqual(JSON.parse(call?.body ?? ""), { user_metadata: { theme: "dark", lang: "de" } });
    assert.deepEqual((await c.getSession())?.user?.user_metadata, { theme: "dark", lang: "de" });
    assert.deepEqual(ev, ["USER_UPDATED"]);
    assert.deepEqual((await c.getUser()).user_metadata, { theme: "dark", lang: "de" });

    // latch's refusal is a typed error, and nothing changes.
    await assert.rejects(
      c.updateUser({ user_metadata: { bio: "x".repeat(5000) } }),
      (e: unknown) => e instanceof LatchError && e.code === "invalid_metadata" && e.status === 422,
    );
    assert.deepEqual((await c.getUser()).user_metadata, { theme: "dark", lang: "de" });
    assert.deepEqual(ev, ["USER_UPDATED"]);
    w.close();
  });

  it("says at once when there is no WebAuthn for the passkey methods", async () => {
    const w = world();
    const c = w.tab();
    const none = (e: unknown) => e instanceof LatchError && e.code === "webauthn_unavailable";
    await assert.rejects(c.signInWithPasskey(), none);
    await assert.rejects(c.verifyMfaWithPasskey({ mfaToken: "t" }), none);
    await assert.rejects(c.addPasskey({ password: PW }), none);
    assert.equal(w.latch.calls.length, 0, "nothing was sent to latch");
    w.close();
  });

  it("needs a session", async () => {
    const w = world();
    await assert.rejects(w.tab().updateUser({ user_metadata: {} }), NotSignedInError);
    w.close();
  });
});

describe("sign out", () => {
  it("ends the session at latch and in every tab", async () => {
    const w = world();
    const a = w.tab();
    const b = w.tab();
    const evA = events(a);
    const evB = events(b);
    const s = await a.signInWithPassword({ email: "kate@example.com", password: PW });
    await settle();
    await a.signOut();
    const call = w.latch.calls.find((x) => x.path === "/v1/logout");
    assert.equal(call?.headers.get("Authorization"), `Bearer ${s.accessToken}`);
    assert.deepEqual(JSON.parse(call?.body ?? ""), { refresh_token: s.refreshToken });
    assert.equal(w.latch.sessions[0]?.ended, true);
    await settle();
    assert.deepEqual(evA, ["SIGNED_IN", "SIGNED_OUT"]);
    assert.deepEqual(evB, ["SIGNED_IN", "SIGNED_OUT"]);
    assert.equal(await b.getSession(), null);
    assert.deepEqual([...(await storedValues(w.storage))], []);
    w.close();
  });

  it("revokes the refresh token when the access token has expired, and forgets locally if latch is down", async () => {
    const w = world();
    const a = w.tab();
    await a.signInWithPassword({ email: "kate@example.com", password: PW });
    w.clock.advance(1000);
    await a.signOut();
    assert.equal(w.latch.count("/v1/logout"), 0);
    assert.match(w.latch.calls.at(-1)?.body ?? "", /^token=rt-\d+&token_type_hint=refresh_token&client_id=spa$/);

    await a.signInWithPassword({ email: "kate@example.com", password: PW });
    w.latch.override.set("/v1/logout", () => problem(503, "unavailable", { "Retry-After": "1" }));
    await assert.rejects(a.signOut(), RateLimitedError);
    assert.equal(await a.getSession(), null);
    w.close();
  });
});

describe("authorization code flow", () => {
  it("builds the authorize URL with PKCE S256, state and nonce", async () => {
    const w = world();
    const c = w.tab();
    const u = new URL(await c.createAuthorizeUrl({ prompt: "login", loginHint: "kate@example.com" }));
    assert.equal(u.origin + u.pathname, ISSUER + "/oauth/authorize");
    const q = u.searchParams;
    assert.equal(q.get("response_type"), "code");
    assert.equal(q.get("client_id"), "spa");
    assert.equal(q.get("redirect_uri"), APP);
    assert.equal(q.get("scope"), "openid email offline_access");
    assert.equal(q.get("code_challenge_method"), "S256");
    assert.equal(q.get("prompt"), "login");
    assert.equal(q.get("login_hint"), "kate@example.com");
    for (const p of ["state", "nonce", "code_challenge"]) assert.match(q.get(p) ?? "", /^[A-Za-z0-9_-]{43}$/, p);
    const u2 = new URL(await c.createAuthorizeUrl());
    assert.notEqual(u2.searchParams.get("state"), q.get("state"));
    assert.notEqual(u2.searchParams.get("code_challenge"), q.get("code_challenge"));
    w.close();
  });

  it("S256 matches RFC 7636 appendix B", async () => {
    assert.equal(await s256(globalThis.crypto, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
  });

  it("exchanges the code with the verifier and refreshes at the token endpoint", async () => {
    const w = world();
    const c = w.tab();
    const ev = events(c);
    const back = w.latch.authorize(await c.createAuthorizeUrl());
    const s = await c.handleRedirectCallback(back);
    assert.equal(s.oauth, true);
    assert.ok(s.idToken);
    assert.deepEqual(ev, ["SIGNED_IN"]);
    const ex = new URLSearchParams(w.latch.calls.find((x) => x.path === "/oauth/token")?.body);
    assert.equal(ex.get("grant_type"), "authorization_code");
    assert.match(ex.get("code_verifier") ?? "", /^[A-Za-z0-9_-]{43}$/);

    const r = await c.refresh();
    assert.equal(r.idToken, s.idToken, "the ID token is kept across refreshes");
    const rf = new URLSearchParams(w.latch.calls.at(-1)?.body);
    assert.equal(w.latch.calls.at(-1)?.path, "/oauth/token");
    assert.equal(rf.get("grant_type"), "refresh_token");
    assert.equal(rf.get("client_id"), "spa");

    // The same response again: its state was used.
    await assert.rejects(c.handleRedirectCallback(back), (e: unknown) => e instanceof CallbackError && e.code === "state_mismatch");
    w.close();
  });

  it("refuses a response with an unknown state, a wrong or missing iss, or a wrong nonce", async () => {
    const w = world();
    const c = w.tab();
    const forged = new URL(APP);
    forged.searchParams.set("code", "code-x");
    forged.searchParams.set("state", "not-mine");
    forged.searchParams.set("iss", ISSUER);
    await assert.rejects(c.handleRedirectCallback(forged), { code: "state_mismatch" });

    for (const iss of [null, "https://evil.example.test"]) {
      const back = w.latch.authorize(await c.createAuthorizeUrl(), { iss });
      await assert.rejects(c.handleRedirectCallback(back), { code: "issuer_mismatch" });
    }
    assert.equal(w.latch.count("/oauth/token"), 0, "no code was sent to the token endpoint");

    // An ID token minted for another flow's nonce.
    const url = new URL(await c.createAuthorizeUrl());
    url.searchParams.set("nonce", "someone-elses");
    await assert.rejects(c.handleRedirectCallback(w.latch.authorize(url.toString())), { code: "nonce_mismatch" });
    assert.equal(await c.getSession(), null);
    w.close();
  });

  it("reports an error response as OAuthError after checking state and iss", async () => {
    const w = world();
    const c = w.tab();
    const q = new URL(await c.createAuthorizeUrl()).searchParams;
    const back = new URL(APP);
    back.searchParams.set("error", "access_denied");
    back.searchParams.set("error_description", "the user said no");
    back.searchParams.set("state", q.get("state") ?? "");
    back.searchParams.set("iss", ISSUER);
    await assert.rejects(c.handleRedirectCallback(back), (e: unknown) => {
      assert.ok(e instanceof OAuthError);
      assert.equal(e.code, "access_denied");
      assert.equal(e.description, "the user said no");
      return true;
    });
    w.close();
  });
});

describe("refresh timer", () => {
  it("refreshes on its own ahead of expiry", async (t) => {
    t.mock.timers.enable({ apis: ["setTimeout"] });
    const w = world();
    const c = w.tab({ autoRefresh: true, refreshMargin: 30, channel: null });
    await c.signInWithPassword({ email: "kate@example.com", password: PW });
    w.clock.advance(870);
    t.mock.timers.tick(870_000);
    // The refresh runs through the fake network, which yields a timer turn.
    for (let i = 0; i < 20 && w.latch.rotations === 0; i++) {
      await Promise.resolve();
      t.mock.timers.tick(1);
      await new Promise<void>((r) => setImmediate(r));
    }
    assert.equal(w.latch.rotations, 1);
    c.close();
  });
});

async function storedValues(s: TokenStorage): Promise<Set<string>> {
  // memoryStorage has no listing: probe the keys the client uses.
  const out = new Set<string>();
  const v = await s.getItem("latch:spa:session");
  if (v !== null) out.add(v);
  return out;
}

/** slowStorage answers every call on a later turn of the event loop, like IndexedDB. */
function slowStorage(s: TokenStorage): TokenStorage {
  const later = () => new Promise<void>((r) => setImmediate(r));
  return {
    getItem: async (k) => {
      await later();
      return s.getItem(k);
    },
    setItem: async (k, v) => {
      await later();
      await s.setItem(k, v);
    },
    removeItem: async (k) => {
      await later();
      await s.removeItem(k);
    },
  };
}

describe("errorFromResponse", () => {
  it("maps problem+json, RFC 6749 JSON and unreadable bodies to typed errors", async () => {
    const p = await errorFromResponse(problem(409, "email_taken"));
    assert.ok(p instanceof LatchError && !(p instanceof OAuthError));
    assert.equal(p.code, "email_taken");
    assert.equal(p.status, 409);

    const o = await errorFromResponse(json(400, { error: "invalid_grant", error_description: "used" }));
    assert.ok(o instanceof OAuthError);
    assert.equal(o.code, "invalid_grant");
    assert.equal(o.description, "used");

    const m = await errorFromResponse(json(403, { error: "mfa_required", mfa_token: "t", methods: ["totp"] }));
    assert.ok(m instanceof MfaRequiredError);
    assert.equal(m.mfaToken, "t");

    const u = await errorFromResponse(new Response("<html>bad gateway</html>", { status: 502 }));
    assert.equal(u.code, "internal");
    assert.equal(u.body, undefined);

    const r = await errorFromResponse(problem(503, "unavailable", { "Retry-After": "soon" }));
    assert.ok(r instanceof RateLimitedError);
    assert.equal(r.retryAfter, undefined, "a Retry-After that is not whole seconds is not guessed at");
  });
});
