/**
 * @latchauth/latch-js: the browser and Node client of the latch
 * authentication server. See README.md for usage.
 */
export {
  LatchClient,
  decodeJwtPayload,
  type AuthEvent,
  type AuthListener,
  type AuthorizeOptions,
  type ChannelLike,
  type LatchClientOptions,
  type LockManagerLike,
  type Passkey,
  type Session,
  type User,
  type WebAuthnLike,
} from "./client.js";
export {
  CallbackError,
  LatchError,
  MfaRequiredError,
  NotSignedInError,
  OAuthError,
  RateLimitedError,
  SessionEndedError,
  errorFromResponse,
  type Problem,
} from "./errors.js";
export {
  indexedDBStorage,
  localStorageStorage,
  memoryStorage,
  sessionStorageStorage,
  type IndexedDBStorageOptions,
  type TokenStorage,
  type WebStorageLike,
} from "./storage.js";
export { base64url, s256 } from "./pkce.js";
