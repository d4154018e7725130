// Verifies a latch access token with node's jose against latch's JWKS.
// usage: node verify.mjs JWKS_URL ISSUER AUDIENCE TOKEN [ALG]
// Prints {"ok":true,"header":...,"payload":...} or {"ok":false,"code":...}.
import { createRemoteJWKSet, jwtVerify } from 'jose';

const [jwksURL, issuer, audience, token, alg] = process.argv.slice(2);
const jwks = createRemoteJWKSet(new URL(jwksURL));
try {
  const { payload, protectedHeader } = await jwtVerify(token, jwks, {
    issuer,
    audience,
    typ: 'at+jwt',
    algorithms: alg ? [alg] : ['EdDSA', 'ES256', 'RS256'],
    requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat', 'jti'],
  });
  console.log(JSON.stringify({ ok: true, header: protectedHeader, payload }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, code: e.code ?? String(e) }));
}
