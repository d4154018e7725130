// Package verify lets a Go service accept latch access tokens without
// calling latch for each request.
//
// A Verifier fetches latch's public keys from its JWKS
// (/.well-known/jwks.json) and verifies tokens locally:
//
//   - the compact JWS is parsed strictly: canonical base64url, one JSON
//     object per segment without duplicate members, only the header
//     parameters alg, kid and typ, and typ "at+jwt" (RFC 9068);
//   - the key is chosen by kid and pins the algorithm (EdDSA, ES256 or
//     RS256): the token's alg must equal the key's, never the other way
//     round (RFC 8725); ES256 signatures must be low-S, as latch makes them;
//   - iss, aud, exp, nbf and iat are checked with a small leeway (30s by
//     default).
//
// Keys are cached. A token naming an unknown kid (after a key rotation)
// fetches the set again, at most once per MinRefreshInterval (10s), and
// callers arriving during a fetch wait for it and use its result; the
// set is also refreshed in the background every RefreshInterval (5 min, or
// the answer's Cache-Control max-age) while tokens are verified. Only keys
// with "use":"sig" and a known alg are taken, and no Ed25519 key of small
// order (with one, signatures could be forged). When latch is down the
// cached keys keep working.
//
// # Immediate revocation
//
// An access token lives up to 15 minutes. With Config.RevocationsURL set,
// the Verifier also follows latch's revocation feed (GET /v1/revocations):
// a long poll that latch answers as soon as a session ends (logout,
// DELETE /v1/sessions/{id}, refresh token theft) or a user is cut off
// (logout everywhere, admin force logout, role change, disable, password
// reset or change, account deletion). A token of an ended session, or
// issued before its user's cut-off, is then refused within about a second
// while verification stays local. Entries are kept only as long as the
// tokens they void could live. If latch cannot be reached the Verifier
// keeps what it knows and retries; call Ready at start-up to wait for the
// keys and the feed's first answer.
//
// # Middleware
//
// Middleware protects net/http handlers and puts the claims in the
// request's context (ClaimsFrom); RequireRole restricts a handler to tokens
// carrying a role. Refusals are 401 or 403 with RFC 6750 WWW-Authenticate
// challenges and RFC 9457 problem bodies. The package's Middleware example
// shows a service set up this way; Verifier.Verify's, a token checked
// directly.
//
// # Which verifier
//
// Verifier is the one to use. jws.Verify, which it calls, is the bare
// rule without key fetching or revocation; internal/token's
// IssuerVerifier is latch's server checking its own tokens. All three
// apply the same rule to a token's form, signature and claims (see the jws
// package doc); Verifier adds the keys' fetching and the revocation feed.
//
// This package imports only the standard library and latch's strict JOSE
// core, github.com/latchauth/latch/jws (standard library only itself),
// which latch's server uses too; nothing of the server, so that services
// can depend on it alone (TestImportsNothingFromServer checks it).
package verify
