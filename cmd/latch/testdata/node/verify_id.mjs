// Verifies a latch OpenID Connect ID token with node's jose against
// latch's JWKS, as a relying party would (OIDC Core §3.1.3.7).
// usage: node verify_id.mjs JWKS_URL ISSUER CLIENT_ID TOKEN NONCE [ALG]
// Prints {"ok":true,"header":...,"payload":...} or {"ok":false,"code":...}.
import { createRemoteJWKSet, jwtVerify } from 'jose';

const [jwksURL, issuer, clientID, token, nonce, alg] = process.argv.slice(2);
const jwks = createRemoteJWKSet(new URL(jwksURL));
try {
  const { payload, protectedHeader } = await jwtVerify(token, jwks, {
    issuer,
    audience: clientID,
    typ: 'JWT',
    algorithms: alg ? [alg] : ['EdDSA', 'ES256', 'RS256'],
    requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat', 'auth_time'],
  });
  if (payload.nonce !== nonce) {
    console.log(JSON.stringify({ ok: false, code: 'NONCE_MISMATCH' }));
  } else {
    console.log(JSON.stringify({ ok: true, header: protectedHeader, payload }));
  }
} catch (e) {
  console.log(JSON.stringify({ ok: false, code: e.code ?? String(e) }));
}
