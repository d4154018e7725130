/** Random values and PKCE (RFC 7636, S256) through WebCrypto. */

/** base64url without padding (RFC 4648 §5). */
export function base64url(bytes: Uint8Array): string {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** base64urlDecode decodes base64url (padding optional) to bytes. */
export function base64urlDecode(s: string): Uint8Array {
  if (!/^[A-Za-z0-9_-]*$/.test(s)) throw new TypeError("not base64url");
  const b64 = s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4);
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** randomToken answers n random bytes (default 32: 256 bits) as base64url. */
export function randomToken(crypto: Crypto, n = 32): string {
  return base64url(crypto.getRandomValues(new Uint8Array(n)));
}

/** s256 is the S256 code_challenge of a verifier: BASE64URL(SHA-256(ASCII(verifier))). */
export async function s256(crypto: Crypto, verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}
