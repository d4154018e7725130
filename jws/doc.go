// Package jws is the strict JOSE core shared by latch's server
// (internal/token) and by the verify package that other Go services
// import: one implementation of everything that decides whether an access
// token is accepted.
//
// It holds:
//
//   - strict parsing: canonical base64url only (DecodeSegment), and JSON
//     scanned in one pass that refuses invalid UTF-8, duplicate member
//     names at any depth (compared after unescaping), nesting deeper than
//     32 and trailing data;
//   - public keys: Key, whose Alg pins the only algorithm a token signed
//     with it may use (EdDSA, ES256, RS256); CheckKey, which refuses
//     Ed25519 keys of small order or not canonically encoded, EC points
//     off P-256, and RSA keys outside 2048 to 8192 bits or with an
//     exponent crypto/rsa cannot use; JWK parsing
//     (ParseJWK, ParseJWKS) and encoding (Key.JWK, JWKS) and RFC 7638
//     thumbprints;
//   - verification (Verify): compact JWS, header whitelist (alg, kid, typ
//     at+jwt), signature with the key named by kid, then the claims of an
//     RFC 9068 access token, decoded without building a map, against
//     issuer, audience and times (Checks);
//   - the RFC 6750 Authorization header (ParseBearer).
//
// # Which verifier
//
// Three things in latch verify tokens, one per role:
//
//   - jws.Verify (this package) is the rule: a function of a token, a key
//     lookup and Checks, without fetching or caching keys. Use it only to
//     build a verifier of your own around other key storage.
//   - verify.Verifier is what a service that accepts latch's tokens uses:
//     it fetches the JWKS over HTTP, caches and refreshes the keys,
//     follows the revocation feed, and has net/http middleware.
//   - latch's server checks the tokens it issued itself with
//     internal/token's IssuerVerifier, on its in-memory key ring.
//
// Both verifiers call Verify, so they apply the same rule to a token's
// form, signature and claims.
//
// Private keys, signing, sealing and opaque tokens stay in latch's
// internal/token; key caching, the revocation feed and the HTTP middleware
// stay in verify. This package imports only the standard library (a test
// checks it), so that verify can import it without pulling in anything of
// the server.
package jws
