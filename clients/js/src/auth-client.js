/**
 * auth-client.js — a small browser client for the portcullis session gateway,
 * published as the npm package `@portcullis/client` (this file is its source;
 * the SPA in `static/` serves the same file through a symlink).
 *
 * It is a plain ES module with no dependencies, so any front end served by (or
 * allowed by CORS on) a portcullis gateway can use it:
 *
 *     import { AuthClient, AuthError } from '@portcullis/client';
 *
 *     const auth = new AuthClient();            // or createAuthClient({...})
 *     auth.onChange(({ user, reason }) => {
 *       if (user) showApp(user); else showLogin(reason);
 *     });
 *     await auth.init();                        // restores a session after a reload
 *
 *     try {
 *       await auth.login(username, password);
 *     } catch (err) {
 *       if (err instanceof AuthError && err.status === 429) {
 *         say(`Try again in ${err.retryAfter} s`);
 *       }
 *     }
 *
 *     const res = await auth.fetchApi('/api/employees');   // adds the bearer token
 *     await auth.logout();                                  // every tab logs out
 *     await auth.logoutEverywhere();                        // every device too
 *
 * How the tokens are kept
 * - The refresh token is an httpOnly cookie scoped to `/auth`: scripts, this one
 *   included, can neither read nor send it elsewhere. `init()` and the silent
 *   refresh call `POST /auth/refresh` with `X-CSRF: 1`, and the browser attaches
 *   the cookie.
 * - The access token lives only in a private field of this object. It is never
 *   written to localStorage, sessionStorage, IndexedDB or a cookie, so a reload
 *   forgets it and `init()` fetches a new one.
 * - Shortly before it expires (60 s before, or 20 % of its lifetime before for
 *   short lifetimes) the token is renewed in the background.
 *
 * Several tabs
 * - Refreshes are serialised across tabs with the Web Locks API
 *   (`navigator.locks`, lock name `portcullis-refresh`) where available, and a
 *   `BroadcastChannel('portcullis-auth')` shares the result: the tab that
 *   refreshed posts `{type:'token', access_token, expires_in, user, at}` and the
 *   other tabs adopt it instead of refreshing themselves. A tab that was waiting
 *   for the lock checks for such a token before calling the server.
 * - Logging out in one tab posts `{type:'logout'}` and every tab drops its token.
 *
 * Second factors and step-up (contract §9)
 * - For a user with a second factor, `login()` rejects with an AuthError whose
 *   `code` is 'mfa_required' and whose `details` carry `mfa_token` and
 *   `methods`; `loginSecondFactor(mfaToken, {totp})` (or `{recovery_code}`)
 *   finishes the login within 5 minutes.
 * - A call that the gateway refuses for too weak or too old an authentication
 *   (401 with `WWW-Authenticate: Bearer
 *   error="insufficient_user_authentication", acr_values="mfa", max_age=300`,
 *   RFC 9470) is answered through the `onStepUp` option: it is called with
 *   `{acrValues, maxAge, description, path, stepUp}` and resolves once done;
 *   `stepUp(proof)` (`{password}`, `{totp}` or `{recovery_code}`) calls `POST
 *   /auth/step-up`, keeps the new access token (same session, no new cookie)
 *   and rejects with an AuthError for a wrong one, so the app may ask again.
 *   When the token changed, the refused call is retried once. Calls refused
 *   together share one question. Without `onStepUp` the 401 comes back as is.
 *
 * WebSockets (contract §11)
 * - `openSocket('/api/feed', {onMessage, onOpen, onClose, protocols})` opens
 *   a WebSocket through the gateway: browsers cannot set Authorization on
 *   one, so it fetches a single-use ticket (`POST /auth/ws-ticket`, valid
 *   30 s) with the access token and connects to `ws(s)://…/api/feed?ticket=…`.
 *   It stays open for the app: after any close it connects again with a
 *   fresh ticket (waiting a little longer after each failure), and while
 *   nobody is logged in it waits. A socket the gateway closes because its
 *   session ended (1008) reconnects once a refresh (or a new login) gave
 *   this tab a token again. Returns `{close(), socket}`.
 *
 * Sessions ended elsewhere
 * - While logged in and visible, each tab asks `GET /auth/me` every few
 *   seconds (`watchInterval`). When the session was ended from another device,
 *   by a password change or by an administrator, the token is refused, the
 *   refresh fails, and listeners hear 'session_ended' within seconds rather
 *   than at the next click.
 * - The refresh 401 says why the session ended (`reason`, and `cause` for a
 *   reuse, contract §12): listeners get it as `ended: {reason, cause}`, and
 *   the other tabs hear it too, so every tab can tell the user the same.
 *
 * `onChange` listeners receive `{user, accessToken, expiresAt, lastRefresh,
 * refreshCount, reason, error, ended}`. `ended` is `{reason, cause}` from the
 * gateway when a session ended and it said why (`cause` null but for a
 * reuse), else null. `reason` is one of:
 *   'restore'              init() found a live session (refresh cookie)
 *   'login'                login() succeeded in this tab
 *   'login_elsewhere'      another tab logged in; this tab adopted its token
 *   'refresh'              this tab renewed the access token
 *   'adopted'              another tab renewed it (or stepped up); this tab adopted the new one
 *   'step_up'              stepUp() re-authenticated this tab's session
 *   'refresh_failed'       a background refresh failed for a transient reason
 *                          (network, 5xx); the session is kept and retried
 *   'logged_out'           init() found no session
 *   'unavailable'          init() could not reach the server
 *   'logout'               logout() in this tab
 *   'logout_elsewhere'     logout in another tab
 *   'logout_everywhere'    logoutEverywhere() in this tab
 *   'session_expired'      the server says the session has expired
 *   'refresh_token_reused' the server revoked the session because a refresh
 *                          token was presented twice (possible theft)
 *   'session_ended'        the refresh was refused for another reason while
 *                          logged in (ended from another device, password
 *                          changed, user disabled, cookie gone), or on
 *                          init() for a session that ended with a reason
 *
 * Errors: every failed call rejects with an `AuthError` carrying `status` (0 for
 * a network failure), `code` (the JSON `error` field of the gateway's answer),
 * `message`, `reason` (why a session ended, the refresh 401's `reason`, else
 * null), `cause` (the 401's `cause` for a reuse, or the underlying error of a
 * network failure, else null), `retryAfter` (seconds, from `Retry-After` on a
 * 429) and `details` (the whole JSON body, e.g. `mfa_token` and `methods`, or
 * null).
 */

/**
 * @typedef {object} User
 * @property {string} id
 * @property {string} username
 * @property {readonly string[]} roles `user`, `editor`, `admin`
 */

/**
 * The `error` codes of the contract, and the client's own: `network_error`
 * (the gateway could not be reached), `invalid_response` (a 2xx without a
 * token) and `http_NNN` (a non-JSON error answer).
 * @typedef {'invalid_input' | 'unsupported_media_type' | 'payload_too_large'
 *   | 'invalid_credentials' | 'invalid_token' | 'missing_refresh_token'
 *   | 'invalid_refresh_token' | 'refresh_token_reused' | 'session_expired'
 *   | 'csrf_check_failed' | 'forbidden' | 'registration_disabled' | 'not_found'
 *   | 'username_taken' | 'too_many_attempts' | 'upstream_unavailable'
 *   | 'upstream_timeout' | 'unavailable' | 'internal' | 'method_not_allowed'
 *   | 'mfa_required' | 'insufficient_user_authentication'
 *   | 'network_error' | 'invalid_response' | (string & {})} ErrorCode
 */

/**
 * The JSON body of an error answer, as the gateway sent it.
 * @typedef {object} ErrorBody
 * @property {string} [error]
 * @property {string} [message]
 * @property {string} [reason] why the session ended (a refresh 401)
 * @property {string} [cause] `successor_unused` or `successor_used` (a reuse)
 * @property {string} [mfa_token] the second step's token (`mfa_required`)
 * @property {string[]} [methods] the user's second factors (`mfa_required`)
 * @property {string} [acr_values] what a step-up asks for
 * @property {number} [max_age] how recent the authentication must be (s)
 */

/**
 * One second factor's answer, sent as the body of `POST /auth/login/mfa`
 * (with the `mfa_token`) or `POST /auth/step-up`. Any other fields the
 * gateway accepts for a factor (contract §9) pass through unchanged.
 * @typedef {{totp: string} | {recovery_code: string} | {password: string}
 *   | Record<string, unknown>} FactorProof
 */

/**
 * A WebAuthn ceremony begun by the gateway (contract §9): `ceremony` goes
 * back with the credential; `publicKey` is the options' JSON form, for
 * `PublicKeyCredential.parseCreationOptionsFromJSON` /
 * `parseRequestOptionsFromJSON`.
 * @typedef {{ceremony: string, publicKey: Record<string, unknown>}} PasskeyOptions
 */

/**
 * Why the gateway says a session ended: the refresh 401's `reason`, and
 * its `cause` for a reuse (else null).
 * @typedef {{reason: string, cause: string | null}} EndedBy
 */

/**
 * @typedef {'restore' | 'login' | 'login_elsewhere' | 'refresh' | 'adopted'
 *   | 'step_up' | 'refresh_failed' | 'logged_out' | 'unavailable' | 'logout'
 *   | 'logout_elsewhere' | 'logout_everywhere' | 'session_expired'
 *   | 'refresh_token_reused' | 'session_ended'} ChangeReason
 */

/**
 * @typedef {object} Snapshot
 * @property {User | null} user
 * @property {string | null} accessToken
 * @property {number | null} expiresAt ms since epoch
 * @property {number | null} lastRefresh ms since epoch
 * @property {number} refreshCount
 */

/**
 * What `onChange` listeners receive.
 * @typedef {Snapshot & {reason: ChangeReason, error: AuthError | null, ended: EndedBy | null}} AuthState
 */

/**
 * What an RFC 9470 step-up challenge asks for.
 * @typedef {object} StepUpChallenge
 * @property {string[]} acrValues e.g. `['mfa']`
 * @property {number | null} maxAge seconds
 * @property {string | null} description
 */

/**
 * The question `onStepUp` answers: the challenge, the refused path, and
 * `stepUp(proof)` to re-authenticate with.
 * @typedef {StepUpChallenge & {path: string, stepUp: (proof: FactorProof) => Promise<User | null>}} StepUpRequest
 */

/**
 * One challenge of a `WWW-Authenticate` header.
 * @typedef {object} AuthChallenge
 * @property {string} scheme lower-cased
 * @property {Record<string, string>} params names lower-cased, values as sent
 * @property {string | null} token68
 */

/**
 * @typedef {object} SocketHandlers
 * @property {(event: MessageEvent) => void} [onMessage]
 * @property {(socket: WebSocket) => void} [onOpen]
 * @property {(event: CloseEvent) => void} [onClose]
 * @property {string | string[]} [protocols]
 */

/**
 * @typedef {object} SocketHandle
 * @property {() => void} close stops reconnecting and closes the socket
 * @property {WebSocket | null} socket the socket open now, if any
 */

/**
 * @typedef {object} AuthClientOptions
 * @property {string} [baseUrl] origin (and optional prefix) of the gateway; '' means this page's origin
 * @property {RequestCredentials} [credentials] for /auth requests; 'include' for a cross-origin gateway
 * @property {string} [lockName] the Web Locks name shared by the tabs
 * @property {string} [channelName] the BroadcastChannel name shared by the tabs
 * @property {number} [refreshMargin] seconds before expiry to refresh (capped at 20 % of the lifetime)
 * @property {number} [requestTimeout] ms before an /auth request is abandoned
 * @property {number} [handoffDelay] ms the refreshing tab keeps the lock after broadcasting
 * @property {number} [watchInterval] ms between checks that the session is still live (0: never)
 * @property {typeof fetch} [fetch] injected for tests; defaults to the global fetch
 * @property {(request: StepUpRequest) => Promise<void> | void} [onStepUp] asks the user to re-authenticate
 */

/**
 * A message between the tabs.
 * (internal)
 * @typedef {{type: 'token', source: string, access_token: string, expires_in: number,
 *   user: unknown, at: number} | {type: 'logout', reason?: string, ended?: EndedBy | null, at: number}} TabMessage
 */

/**
 * (internal)
 * @typedef {{access_token: string, token_type?: string, expires_in: number, user: unknown}} TokenBody
 */

/** @type {Readonly<Required<Omit<AuthClientOptions, 'fetch' | 'onStepUp'>> & AuthClientOptions>} */
const DEFAULT_OPTIONS = Object.freeze({
  /** Origin (and optional prefix) of the gateway; '' means this page's origin. */
  baseUrl: '',
  /** `credentials` for /auth requests; use 'include' for a cross-origin gateway. */
  credentials: 'same-origin',
  lockName: 'portcullis-refresh',
  channelName: 'portcullis-auth',
  /** Seconds before expiry to refresh (capped at 20 % of the token's lifetime). */
  refreshMargin: 60,
  /** Milliseconds before an /auth request is abandoned, so a hung call cannot hold the lock. */
  requestTimeout: 15000,
  /**
   * Milliseconds the refreshing tab keeps the lock after broadcasting, so the
   * message reaches waiting tabs before they get the lock and refresh again.
   */
  handoffDelay: 100,
  /** Milliseconds between checks that the session is still live (0: never). */
  watchInterval: 3000,
  /** Injected for tests; defaults to the global fetch. */
  fetch: undefined,
  /**
   * `async ({acrValues, maxAge, description, path, stepUp}) => void`: asks the
   * user to re-authenticate when a call needs it (see "Second factors").
   */
  onStepUp: undefined,
});

/** The refresh answers after which the user must be told why they were logged out. */
const SESSION_ENDING_CODES = new Set(['refresh_token_reused', 'session_expired']);

/**
 * Why the gateway says a session ended (a refresh 401's `reason` and
 * `cause`, or another tab's word for it), or null when it names none.
 * @param {{reason?: unknown, cause?: unknown} | null | undefined} said
 * @returns {EndedBy | null}
 */
function endedBy(said) {
  const reason = said?.reason;
  if (typeof reason !== 'string' || !reason) return null;
  const cause = said?.cause;
  return { reason, cause: typeof cause === 'string' ? cause : null };
}

/** setTimeout takes a signed 32-bit delay; longer ones fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** An /auth or network failure, with the gateway's error code. */
export class AuthError extends Error {
  /**
   * The 401's `cause` for a reuse (`successor_unused`, `successor_used`),
   * or what made a network failure (the fetch's error), else null.
   * @type {string | Error | null}
   */
  cause = null;

  /**
   * @param {string} message one human sentence
   * @param {{status?: number, code?: ErrorCode, retryAfter?: number | null,
   *          details?: ErrorBody | null, cause?: unknown}} [options]
   */
  constructor(message, { status = 0, code = 'network_error', retryAfter = null, details = null, cause } = {}) {
    super(message);
    this.name = 'AuthError';
    /** HTTP status, or 0 when the server could not be reached. */
    this.status = status;
    /**
     * The `error` field of the JSON body, e.g. 'invalid_credentials'.
     * @type {ErrorCode}
     */
    this.code = code;
    /**
     * Why the session ended (a refresh 401's `reason`, contract §12), else null.
     * @type {string | null}
     */
    this.reason = typeof details?.reason === 'string' ? details.reason : null;
    this.cause = typeof details?.cause === 'string' ? details.cause : asError(cause);
    /** Seconds to wait, from `Retry-After` (429), else null. */
    this.retryAfter = retryAfter;
    /** The JSON body as the gateway sent it (`mfa_token`, `acr_values`…), else null. */
    this.details = details;
  }

  /**
   * Builds an AuthError from a non-2xx Response with the contract's `{error, message}` body.
   * @param {Response} res
   * @returns {Promise<AuthError>}
   */
  static async fromResponse(res) {
    /** @type {unknown} */
    let json = null;
    try {
      json = await res.json();
    } catch {
      // Not JSON (a proxy in between, say): fall back to the status.
    }
    /** @type {ErrorBody | null} */
    const body = json !== null && typeof json === 'object' && !Array.isArray(json) ? json : null;
    const code = typeof body?.error === 'string' ? body.error : `http_${res.status}`;
    const message = typeof body?.message === 'string' && body.message
      ? body.message
      : `Request failed (HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}).`;
    return new AuthError(message, {
      status: res.status,
      code,
      retryAfter: parseRetryAfter(res.headers.get('Retry-After')),
      details: body,
    });
  }
}

/**
 * What a refresh threw, as an AuthError (anything else wrapped as its cause).
 * @param {unknown} err
 * @returns {AuthError}
 */
function asAuthError(err) {
  if (err instanceof AuthError) return err;
  return new AuthError(err instanceof Error ? err.message : String(err), { code: 'internal', cause: err });
}

/**
 * `cause` as an Error (a thrown non-Error wrapped), or null when there is none.
 * @param {unknown} cause
 * @returns {Error | null}
 */
function asError(cause) {
  if (cause === undefined || cause === null) return null;
  return cause instanceof Error ? cause : new Error(String(cause));
}

/**
 * Decodes a JWT's header and claims for display. It does NOT verify anything:
 * never base an authorization decision on the result.
 * @param {string} token
 * @returns {{header: object, claims: object}}
 */
export function decodeJwt(token) {
  const parts = String(token).split('.');
  if (parts.length !== 3) throw new Error('Not a JWT (expected three dot-separated parts).');
  return { header: decodeBase64UrlJson(parts[0]), claims: decodeBase64UrlJson(parts[1]) };
}

/** @param {string} part */
function decodeBase64UrlJson(part) {
  const base64 = part.replace(/-/g, '+').replace(/_/g, '/');
  const padded = base64.padEnd(Math.ceil(base64.length / 4) * 4, '=');
  const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes));
}

/**
 * `Retry-After` is either delta-seconds or an HTTP date (RFC 9110 §10.2.3).
 * @param {string | null} value
 * @returns {number | null}
 */
function parseRetryAfter(value) {
  if (value == null || value.trim() === '') return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const when = Date.parse(value);
  return Number.isNaN(when) ? null : Math.max(0, Math.ceil((when - Date.now()) / 1000));
}

const TOKEN = /[!#$%&'*+\-.^_`|~0-9A-Za-z]+/y;
/** A token68 (RFC 9110 §11.2) only when nothing but a list separator follows. */
const TOKEN68 = /[A-Za-z0-9\-._~+/]+=*(?=[ \t]*(?:,|$))/y;

/**
 * Parses a `WWW-Authenticate` value (RFC 9110 §11.6.1, the RFC 7235
 * grammar) into its challenges, in order: `[{scheme, params, token68}]`,
 * the scheme and parameter names lower-cased, values as sent (a
 * quoted-string unquoted and unescaped, a token as is). The first of a
 * repeated parameter counts. Parsing stops at the first malformed part and
 * keeps the challenges before it.
 * @param {string | null | undefined} value
 * @returns {AuthChallenge[]}
 */
export function parseWwwAuthenticate(value) {
  const text = String(value ?? '');
  let at = 0;
  /** @param {RegExp} re */
  const match = (re) => {
    re.lastIndex = at;
    const found = re.exec(text);
    if (found) at = re.lastIndex;
    return found?.[0] ?? null;
  };
  const spaces = () => match(/[ \t]*/y);
  const separators = () => match(/[ \t,]*/y); // a list allows empty elements
  const quoted = () => {
    let out = '';
    for (at += 1; at < text.length; at += 1) {
      const c = text[at];
      if (c === '"') {
        at += 1;
        return out;
      }
      if (c === '\\') at += 1;
      if (at < text.length) out += text[at];
    }
    return null; // unterminated
  };

  /** @type {AuthChallenge[]} */
  const challenges = [];
  const atListEnd = () => at === text.length || text[at] === ',';
  for (;;) {
    separators();
    if (at === text.length) break;
    const scheme = match(TOKEN);
    if (!scheme) break;
    /** @type {AuthChallenge} */
    const challenge = { scheme: scheme.toLowerCase(), params: Object.create(null), token68: null };
    challenges.push(challenge);
    if (!match(/ +/y)) {
      if (!atListEnd()) break;
      continue;
    }
    challenge.token68 = match(TOKEN68);
    if (challenge.token68) {
      spaces();
      if (!atListEnd()) break;
      continue;
    }
    // auth-params up to a token without "=": the next challenge's scheme
    for (;;) {
      separators();
      const start = at;
      const name = match(TOKEN);
      spaces();
      if (!name || !match(/=/y)) {
        at = start;
        break;
      }
      spaces();
      const param = text[at] === '"' ? quoted() : match(TOKEN);
      if (param === null) return challenges;
      const key = name.toLowerCase();
      if (!(key in challenge.params)) challenge.params[key] = param;
      spaces();
      if (!atListEnd()) return challenges;
    }
  }
  return challenges;
}

/**
 * The parameters of the Bearer challenge in `value` whose `error` is `error`, or null.
 * @param {string | null} value
 * @param {string} error
 */
function bearerError(value, error) {
  const found = parseWwwAuthenticate(value).find((c) => c.scheme === 'bearer' && c.params.error === error);
  return found?.params ?? null;
}

/**
 * What an RFC 9470 step-up challenge asks for: `{acrValues, maxAge,
 * description}` (`acrValues` a list, `maxAge` seconds or null), or null when
 * `value` holds no Bearer challenge with `error="insufficient_user_authentication"`.
 * `max_age` is read as a token or a quoted-string.
 * @param {string | null | undefined} value a `WWW-Authenticate` header
 * @returns {StepUpChallenge | null}
 */
export function stepUpChallenge(value) {
  const params = bearerError(value ?? null, 'insufficient_user_authentication');
  if (!params) return null;
  const maxAge = /^\d+$/.test(params.max_age ?? '') ? Number(params.max_age) : null;
  return {
    acrValues: (params.acr_values ?? '').split(/[ \t]+/).filter(Boolean),
    maxAge,
    description: params.error_description ?? null,
  };
}

/** @param {number} ms */
function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * @param {unknown} user the token response's `user`
 * @returns {User | null}
 */
function freezeUser(user) {
  if (!user || typeof user !== 'object') return null;
  // the gateway's User (contract §3), kept as sent but for a frozen copy of the roles
  const fields = /** @type {User} */ (user);
  const roles = Array.isArray(fields.roles) ? fields.roles.map(String) : [];
  return Object.freeze({ ...fields, roles: Object.freeze(roles) });
}

/** Keeps one login session for this tab and coordinates it with the other tabs. */
export class AuthClient {
  /** @type {typeof DEFAULT_OPTIONS & {fetch: typeof fetch}} */
  #options;
  /** @type {string | null} */
  #token = null;
  /** @type {User | null} */
  #user = null;
  /** @type {number | null} ms epoch, from the server's expires_in */
  #expiresAt = null;
  #receivedAt = 0; // when the current token was issued to this browser (ms epoch)
  /** @type {number | null} */
  #refreshDueAt = null;
  /** @type {number | null} */
  #lastRefreshAt = null;
  #refreshCount = 0; // refreshes done or adopted by this tab since it loaded
  #generation = 0; // bumped whenever the token is set or cleared
  #endedAt = 0; // when this tab last dropped its session
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #timer = undefined;
  /** @type {ReturnType<typeof setInterval> | undefined} */
  #watch = undefined;
  #retryDelay = 0;
  /** @type {Promise<boolean> | null} */
  #inflight = null;
  /** @type {Promise<void> | null} the step-up question being asked, shared by the calls refused meanwhile */
  #stepUpFlight = null;
  /** @type {Promise<Snapshot> | null} */
  #initPromise = null;
  /** @type {Set<(state: AuthState) => void>} */
  #listeners = new Set();
  /** @type {BroadcastChannel | null} */
  #channel = null;
  #started = false;

  /** @param {AuthClientOptions} [options] */
  constructor(options = {}) {
    const fetcher = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.#options = { ...DEFAULT_OPTIONS, ...options, fetch: fetcher };
  }

  /** The logged-in user `{id, username, roles}`, or null. */
  get user() {
    return this.#user;
  }

  /** The current access token. Exposed for debugging panels; prefer fetchApi(). */
  get accessToken() {
    return this.#token;
  }

  /** When the access token expires (ms since epoch), or null. */
  get expiresAt() {
    return this.#expiresAt;
  }

  /** When this tab last obtained a refreshed token (ms since epoch), or null. */
  get lastRefreshAt() {
    return this.#lastRefreshAt;
  }

  /** How many refreshes this tab has done or adopted since it loaded. */
  get refreshCount() {
    return this.#refreshCount;
  }

  /**
   * True if the user has any of the given roles. The gateway still enforces.
   * @param {...string} roles
   */
  hasRole(...roles) {
    const user = this.#user;
    return Boolean(user && roles.some((role) => user.roles.includes(role)));
  }

  /**
   * The state passed to listeners, without `reason`.
   * @returns {Snapshot}
   */
  get snapshot() {
    return {
      user: this.#user,
      accessToken: this.#token,
      expiresAt: this.#expiresAt,
      lastRefresh: this.#lastRefreshAt,
      refreshCount: this.#refreshCount,
    };
  }

  /**
   * Calls `listener(state)` on every change (login, refresh, logout, session end).
   * @param {(state: AuthState) => void} listener
   * @returns {() => void} unsubscribe
   */
  onChange(listener) {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Restores the session from the refresh cookie, if there is one. Resolves once
   * the state is known (listeners have then been told); never rejects: a
   * network failure settles as logged out with reason 'unavailable'.
   * @returns {Promise<Snapshot>}
   */
  init() {
    this.#initPromise ??= (async () => {
      this.#start();
      try {
        await this.refresh();
      } catch (err) {
        if (!this.#token) this.#emit('unavailable', asAuthError(err));
      }
      return this.snapshot;
    })();
    return this.#initPromise;
  }

  /**
   * Logs in. Resolves with the user; rejects with an AuthError
   * (401 invalid_credentials, 429 too_many_attempts with retryAfter, ...;
   * 401 mfa_required with `details.mfa_token` and `details.methods` when a
   * second factor is due: see loginSecondFactor).
   * @param {string} username
   * @param {string} password
   * @returns {Promise<User | null>}
   */
  async login(username, password) {
    this.#start();
    return this.#keep(await this.#postAuth('/auth/login', { username, password }), 'login');
  }

  /**
   * Finishes a login that answered 'mfa_required', with `err.details.mfa_token`
   * and one second factor: `{totp: '123456'}`, `{recovery_code: '…'}` or a
   * passkey's `{ceremony, credential}` (see secondStepPasskeyOptions).
   * Resolves with the user; rejects with an AuthError (401
   * invalid_credentials for a wrong code or a pending login that is over:
   * used, older than 5 minutes or past its fifth wrong code; 429). `proof`
   * is sent as the body beside `mfa_token`, so any factor the gateway
   * accepts there works.
   * @param {string} mfaToken
   * @param {FactorProof} proof
   * @returns {Promise<User | null>}
   */
  async loginSecondFactor(mfaToken, proof) {
    this.#start();
    return this.#keep(await this.#postAuth('/auth/login/mfa', { ...proof, mfa_token: mfaToken }), 'login');
  }

  /**
   * Request options for a passwordless login with a passkey
   * (`POST /auth/passkey/options`): `{ceremony, publicKey}` for
   * `navigator.credentials.get`, or null when the gateway offers no passkeys.
   * @returns {Promise<PasskeyOptions | null>}
   */
  passkeyLoginOptions() {
    return this.#ceremonyOptions('/auth/passkey/options', undefined);
  }

  /**
   * Request options for the passkey second step of a login that answered
   * 'mfa_required' (`POST /auth/login/mfa/passkey-options`); the assertion
   * then goes to loginSecondFactor as `{ceremony, credential}`.
   * @param {string} mfaToken
   * @returns {Promise<PasskeyOptions | null>}
   */
  secondStepPasskeyOptions(mfaToken) {
    return this.#ceremonyOptions('/auth/login/mfa/passkey-options', { mfa_token: mfaToken });
  }

  /**
   * A passwordless login (`POST /auth/passkey/login`): the assertion
   * (`PublicKeyCredential.toJSON()` form) for the options of `ceremony`.
   * Resolves with the user; rejects with an AuthError (401
   * invalid_credentials for an unknown or refused passkey, 429).
   * @param {string} ceremony
   * @param {object} credential
   * @returns {Promise<User | null>}
   */
  async loginWithPasskey(ceremony, credential) {
    this.#start();
    return this.#keep(await this.#postAuth('/auth/passkey/login', { ceremony, credential }), 'login');
  }

  /**
   * Re-authenticates this session (`POST /auth/step-up`) with `{password}`,
   * `{totp}`, `{recovery_code}` or a passkey's `{ceremony, credential}`
   * (options from `POST /auth/step-up/passkey-options`): a new access token with a new `auth_time`
   * (and `acr` "mfa" after a second factor), the same session and cookie.
   * Resolves with the user; rejects with an AuthError (401
   * invalid_credentials, 429 too_many_attempts…).
   * @param {FactorProof} proof
   * @returns {Promise<User | null>}
   */
  async stepUp(proof) {
    this.#start();
    return this.#keep(await this.#postAuth('/auth/step-up', proof, this.#token), 'step_up');
  }

  /**
   * Logs out here and in every other tab. The local state is cleared even if
   * the server cannot be reached; the call then rejects so the app can say so.
   * @returns {Promise<void>}
   */
  async logout() {
    this.#start();
    this.#clearTimer();
    /** @type {unknown} */
    let failure = null;
    // Let a refresh of this tab finish first, so the newest cookie is revoked.
    await this.#inflight?.catch(() => {});
    await this.#exclusive(async () => {
      try {
        const res = await this.#postAuth('/auth/logout');
        if (!res.ok) failure = await AuthError.fromResponse(res);
      } catch (err) {
        failure = err;
      }
      // Cleared inside the lock: a token another tab broadcast before this
      // point is older than #endedAt and will be ignored.
      this.#clearSession('logout');
      await this.#broadcastAndHold({ type: 'logout', at: Date.now() });
    });
    if (failure) throw failure;
  }

  /**
   * Ends every session of this user, on every device, this one included
   * (`POST /auth/logout-all`), and logs every tab out. Rejects with an
   * AuthError if the server refused; the local state is cleared anyway.
   * @returns {Promise<void>}
   */
  async logoutEverywhere() {
    this.#start();
    /** @type {unknown} */
    let failure = null;
    try {
      const res = await this.fetchApi('/auth/logout-all', { method: 'POST' });
      // 401: the session had already ended
      if (!res.ok && res.status !== 401) failure = await AuthError.fromResponse(res);
    } catch (err) {
      failure = err;
    }
    await this.#exclusive(async () => {
      this.#clearSession('logout_everywhere');
      await this.#broadcastAndHold({ type: 'logout', at: Date.now() });
    });
    if (failure) throw failure;
  }

  /**
   * `fetch` with `Authorization: Bearer <access token>`. When the gateway
   * refuses the token itself (401 with `WWW-Authenticate: Bearer
   * error="invalid_token"`) it refreshes once and retries once, so
   * `init.body` must be replayable (a string, Blob, FormData or
   * URLSearchParams, not a stream). A step-up challenge (401 with
   * `error="insufficient_user_authentication"`) goes to `onStepUp`, and
   * the call is retried once if that gave a new token. Other 401s (a wrong
   * password, an upstream's own) come back as they are. Resolves with the
   * Response, whatever its status; rejects only when fetch itself does.
   * @param {string} path
   * @param {RequestInit} [init]
   * @returns {Promise<Response>}
   */
  async fetchApi(path, init = {}) {
    // Skip a request that is sure to fail: renew an expired token first.
    if (this.#token && this.#expiresAt !== null && Date.now() >= this.#expiresAt - 1000) {
      await this.refresh().catch(() => {});
    }
    let sent = this.#token;
    let res = await this.#fetchWithToken(path, init, sent);
    if (res.status === 401 && bearerError(res.headers.get('WWW-Authenticate'), 'invalid_token')) {
      // Another tab may already have handed us a newer token; else refresh once.
      let renewed = this.#token !== null && this.#token !== sent;
      if (!renewed) {
        try {
          renewed = await this.refresh();
        } catch {
          renewed = false;
        }
      }
      if (!renewed) return res;
      sent = this.#token;
      res = await this.#fetchWithToken(path, init, sent);
    }
    const challenge = res.status === 401 ? stepUpChallenge(res.headers.get('WWW-Authenticate')) : null;
    if (!challenge || !(await this.#answerStepUp(challenge, path, sent))) return res;
    return this.#fetchWithToken(path, init, this.#token);
  }

  /**
   * Renews the access token now. Resolves true if a token is held afterwards,
   * false if the server ended the session (listeners are told why). Rejects
   * with an AuthError for transient failures (network, 5xx). Concurrent calls
   * share one request.
   * @returns {Promise<boolean>}
   */
  refresh() {
    this.#inflight ??= this.#refreshExclusive().finally(() => {
      this.#inflight = null;
    });
    return this.#inflight;
  }

  /**
   * Opens a WebSocket to `path` (an `/api` path) with a fresh ticket and
   * keeps it open, as the module docs say. `handlers`: `onMessage(event)`,
   * `onOpen(socket)`, `onClose(event)`, and `protocols` for the constructor.
   * @param {string} path
   * @param {SocketHandlers} [handlers]
   * @returns {SocketHandle}
   */
  openSocket(path, handlers = {}) {
    /** @type {{socket: WebSocket | null, stopped: boolean, connecting: boolean,
     *          timer: ReturnType<typeof setTimeout> | undefined, delay: number}} */
    const state = { socket: null, stopped: false, connecting: false, timer: undefined, delay: 500 };
    const again = () => {
      if (state.stopped || state.timer) return;
      state.timer = setTimeout(() => {
        state.timer = undefined;
        connect();
      }, state.delay);
      state.delay = Math.min(state.delay * 2, 30000);
    };
    const connect = async () => {
      if (state.stopped || state.connecting || state.socket || !this.#token) return;
      state.connecting = true;
      try {
        const ticket = await this.#wsTicket();
        if (state.stopped || !ticket) return;
        const socket = new WebSocket(this.#wsUrl(path, ticket), handlers.protocols);
        state.socket = socket;
        socket.addEventListener('open', () => {
          state.delay = 500;
          handlers.onOpen?.(socket);
        });
        socket.addEventListener('message', (event) => handlers.onMessage?.(event));
        socket.addEventListener('close', (event) => {
          state.socket = null;
          handlers.onClose?.(event);
          // 1008: the session ended; a refresh tells whether it goes on
          if (event.code === 1008) this.refresh().catch(() => {}).finally(again);
          else again();
        });
      } catch {
        again();
      } finally {
        state.connecting = false;
      }
    };
    const unsubscribe = this.onChange(({ user }) => {
      if (!user) state.socket?.close(1000, 'logged out');
      else connect();
    });
    connect();
    return {
      close() {
        state.stopped = true;
        clearTimeout(state.timer);
        unsubscribe();
        state.socket?.close(1000, 'closed by the app');
      },
      get socket() {
        return state.socket;
      },
    };
  }

  /**
   * A fresh WebSocket ticket, or null when there is no session for one.
   * @returns {Promise<string | null>}
   */
  async #wsTicket() {
    /** @type {RequestInit} */
    const init = { method: 'POST', headers: { Accept: 'application/json' }, cache: 'no-store' };
    // not fetchApi: a step-up question is never asked for a socket
    let res = await this.#fetchWithToken('/auth/ws-ticket', init, this.#token);
    const expired = res.status === 401 && bearerError(res.headers.get('WWW-Authenticate'), 'invalid_token');
    if (expired && (await this.refresh().catch(() => false))) {
      res = await this.#fetchWithToken('/auth/ws-ticket', init, this.#token);
    }
    if (res.status === 401) return null;
    if (!res.ok) throw await AuthError.fromResponse(res);
    const body = await res.json();
    return typeof body?.ticket === 'string' ? body.ticket : null;
  }

  /**
   * The `ws(s)://` URL of `path` on the gateway, carrying `ticket`.
   * @param {string} path
   * @param {string} ticket
   */
  #wsUrl(path, ticket) {
    const url = new URL(this.#url(path), globalThis.location?.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    url.searchParams.append('ticket', ticket);
    return url.href;
  }

  /** Stops timers and the channel; for tests and single-page teardown. */
  destroy() {
    this.#clearTimer();
    clearInterval(this.#watch);
    this.#watch = undefined;
    this.#channel?.close();
    this.#channel = null;
    this.#listeners.clear();
    if (typeof document !== 'undefined') {
      document.removeEventListener('visibilitychange', this.#onWake);
    }
    if (typeof window !== 'undefined') window.removeEventListener('online', this.#onWake);
    this.#started = false;
  }

  // --- internals -----------------------------------------------------------

  /**
   * Asks the app (`onStepUp`) to re-authenticate, once for all the calls
   * refused meanwhile; true when the token changed since `sent`.
   * @param {StepUpChallenge} challenge
   * @param {string} path
   * @param {string | null} sent
   */
  async #answerStepUp(challenge, path, sent) {
    const ask = this.#options.onStepUp;
    if (typeof ask !== 'function' || !this.#token) return false;
    this.#stepUpFlight ??= (async () => {
      try {
        await ask({ ...challenge, path, stepUp: (/** @type {FactorProof} */ proof) => this.stepUp(proof) });
      } catch (err) {
        if (typeof reportError === 'function') reportError(err);
        else console.error(err);
      }
    })().finally(() => {
      this.#stepUpFlight = null;
    });
    await this.#stepUpFlight;
    return this.#token !== null && this.#token !== sent;
  }

  /** Opens the channel before anything waits on the lock, so no message is missed. */
  #start() {
    if (this.#started) return;
    this.#started = true;
    if (typeof BroadcastChannel === 'function') {
      const channel = new BroadcastChannel(this.#options.channelName);
      channel.onmessage = (event) => this.#onMessage(event.data);
      this.#channel = channel;
    }
    // Background tabs throttle timers; catch up when the tab is seen again.
    if (typeof document !== 'undefined') {
      document.addEventListener('visibilitychange', this.#onWake);
    }
    if (typeof window !== 'undefined') window.addEventListener('online', this.#onWake);
    if (this.#options.watchInterval > 0) {
      this.#watch = setInterval(() => this.#checkSession(), this.#options.watchInterval);
    }
  }

  #onWake = () => {
    if (typeof document !== 'undefined' && document.visibilityState === 'hidden') return;
    if (this.#token && this.#refreshDueAt !== null && Date.now() >= this.#refreshDueAt) {
      this.#silentRefresh();
    } else {
      this.#checkSession();
    }
  };

  #checking = false;

  /** Asks the gateway whether the token still stands; fetchApi handles a refusal. */
  async #checkSession() {
    if (!this.#token || this.#checking || this.#inflight) return;
    if (typeof document !== 'undefined' && document.visibilityState === 'hidden') return;
    this.#checking = true;
    try {
      await this.fetchApi('/auth/me', { cache: 'no-store' });
    } catch {
      // offline: the next check, or the next call, will tell
    } finally {
      this.#checking = false;
    }
  }

  async #refreshExclusive() {
    this.#start();
    const generationAtStart = this.#generation;
    if (!this.#hasLocks() && this.#channel) {
      // No Web Locks (e.g. a plain-http LAN address): a random pause lets one
      // tab usually win and the others adopt its broadcast token. The server's
      // grace window covers the rest.
      await sleep(Math.random() * 250);
    }
    return this.#exclusive(async () => {
      // While we queued for the lock another tab may have refreshed (or logged
      // out) and told us so: take its result and spare the server a rotation.
      if (this.#generation !== generationAtStart) return this.#token !== null;
      return this.#refreshFromServer();
    });
  }

  async #refreshFromServer() {
    const generationAtCall = this.#generation;
    const res = await this.#postAuth('/auth/refresh');
    if (res.ok) {
      const body = await this.#readTokenResponse(res);
      const at = Date.now();
      const reason = this.#token ? 'refresh' : 'restore';
      this.#setSession(body, reason, { receivedAt: at, countsAsRefresh: true });
      await this.#broadcastAndHold({ type: 'token', source: 'refresh', ...body, at });
      return true;
    }
    const err = await AuthError.fromResponse(res);
    if (res.status !== 401) throw err;
    // A login in this tab while the call was out: the 401 is about the old cookie.
    if (this.#generation !== generationAtCall && this.#token) return true;

    // 401: the session is over. A session that ended for a reason the
    // gateway names deserves an explanation, in every tab; a missing or
    // unknown cookie just means "not logged in".
    const ended = endedBy(err);
    if (SESSION_ENDING_CODES.has(err.code) || ended) {
      const reason = SESSION_ENDING_CODES.has(err.code) ? /** @type {ChangeReason} */ (err.code) : 'session_ended';
      this.#clearSession(reason, err, ended);
      await this.#broadcastAndHold({ type: 'logout', reason, ended, at: Date.now() });
    } else {
      this.#clearSession(this.#token ? 'session_ended' : 'logged_out', err);
    }
    return false;
  }

  /**
   * Runs `task` under the cross-tab refresh lock when the browser has one.
   * @template T
   * @param {() => Promise<T>} task
   * @returns {Promise<T>}
   */
  #exclusive(task) {
    if (this.#hasLocks()) return /** @type {Promise<T>} */ (navigator.locks.request(this.#options.lockName, task));
    return task();
  }

  #hasLocks() {
    return typeof navigator !== 'undefined' && typeof navigator.locks?.request === 'function';
  }

  async #silentRefresh() {
    this.#clearTimer();
    if (!this.#token) return;
    try {
      await this.refresh();
    } catch (err) {
      // Transient failure: keep the session and retry with a growing pause.
      this.#retryDelay = Math.min(Math.max(this.#retryDelay * 2, 5000), 60000);
      this.#refreshDueAt = Date.now() + this.#retryDelay;
      this.#timer = setTimeout(() => this.#silentRefresh(), this.#retryDelay);
      this.#emit('refresh_failed', asAuthError(err));
    }
  }

  /**
   * The answer of a login or a step-up in this tab: its token is kept and told to the other tabs.
   * @param {Response} res
   * @param {'login' | 'step_up'} source
   */
  async #keep(res, source) {
    if (!res.ok) throw await AuthError.fromResponse(res);
    const body = await this.#readTokenResponse(res);
    const at = Date.now();
    this.#setSession(body, source, { receivedAt: at });
    this.#broadcast({ type: 'token', source, ...body, at });
    return this.#user;
  }

  /** @param {unknown} message what another tab posted */
  #onMessage(message) {
    const data = /** @type {Partial<TabMessage> | null} */ (message);
    if (!data || typeof data !== 'object') return;
    const at = typeof data.at === 'number' && Number.isFinite(data.at) ? data.at : Date.now();
    if (data.type === 'token') {
      if (typeof data.access_token !== 'string' || !(Number(data.expires_in) > 0)) return;
      // Stale news: older than the token we hold, or than our own logout.
      if (at <= this.#receivedAt || at <= this.#endedAt) return;
      this.#setSession(/** @type {TokenBody} */ (data), data.source === 'login' ? 'login_elsewhere' : 'adopted', {
        receivedAt: at,
        countsAsRefresh: data.source === 'refresh',
      });
    } else if (data.type === 'logout') {
      // Ignore a logout older than a session this tab started since.
      if (!this.#token || at < this.#receivedAt) return;
      const reason = /** @type {ChangeReason | undefined} */ (data.reason);
      const said = reason !== undefined && (SESSION_ENDING_CODES.has(reason) || reason === 'session_ended');
      this.#clearSession(said ? reason : 'logout_elsewhere', null, endedBy(data.ended));
    }
  }

  /**
   * @param {TokenBody} body
   * @param {ChangeReason} reason
   * @param {{receivedAt: number, countsAsRefresh?: boolean}} when
   */
  #setSession({ access_token, expires_in, user }, reason, { receivedAt, countsAsRefresh = false }) {
    this.#token = access_token;
    this.#user = freezeUser(user);
    this.#receivedAt = receivedAt;
    this.#expiresAt = receivedAt + expires_in * 1000;
    this.#generation += 1;
    this.#retryDelay = 0;
    if (countsAsRefresh) {
      this.#lastRefreshAt = receivedAt;
      this.#refreshCount += 1;
    }
    this.#schedule(expires_in, receivedAt);
    this.#emit(reason);
  }

  /**
   * @param {ChangeReason} reason
   * @param {AuthError | null} [error]
   * @param {EndedBy | null} [ended]
   */
  #clearSession(reason, error, ended = null) {
    this.#clearTimer();
    this.#token = null;
    this.#user = null;
    this.#expiresAt = null;
    this.#lastRefreshAt = null;
    this.#generation += 1;
    this.#endedAt = Date.now();
    this.#emit(reason, error, ended);
  }

  /**
   * Refresh `min(margin, 20 % of lifetime)` before expiry, counted from the server's expires_in.
   * @param {number} expiresIn seconds
   * @param {number} receivedAt ms epoch
   */
  #schedule(expiresIn, receivedAt) {
    this.#clearTimer();
    const lead = Math.min(this.#options.refreshMargin, expiresIn * 0.2);
    const dueAt = receivedAt + (expiresIn - lead) * 1000;
    this.#refreshDueAt = dueAt;
    const delay = Math.max(0, dueAt - Date.now());
    this.#timer = setTimeout(() => {
      if (Date.now() < dueAt - 1000) {
        this.#schedule(expiresIn, receivedAt); // a capped, very long delay: keep waiting
      } else {
        this.#silentRefresh();
      }
    }, Math.min(delay, MAX_TIMER_MS));
  }

  #clearTimer() {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#refreshDueAt = null;
  }

  /**
   * @param {ChangeReason} reason
   * @param {AuthError | null} [error]
   * @param {EndedBy | null} [ended]
   */
  #emit(reason, error, ended = null) {
    /** @type {AuthState} */
    const state = { ...this.snapshot, reason, error: error ?? null, ended };
    for (const listener of [...this.#listeners]) {
      try {
        listener(state);
      } catch (err) {
        // One broken listener must not starve the others.
        if (typeof reportError === 'function') reportError(err);
        else console.error(err);
      }
    }
  }

  /** @param {TabMessage} message */
  #broadcast(message) {
    try {
      this.#channel?.postMessage(message);
    } catch (err) {
      console.error('auth-client: could not post to other tabs', err);
    }
  }

  /** @param {TabMessage} message */
  async #broadcastAndHold(message) {
    this.#broadcast(message);
    if (this.#channel && this.#options.handoffDelay > 0) await sleep(this.#options.handoffDelay);
  }

  /** @param {string} path */
  #url(path) {
    return `${this.#options.baseUrl}${path}`;
  }

  /**
   * @param {string} path
   * @param {object} [json] the body
   * @param {string | null} [bearer]
   * @returns {Promise<Response>}
   */
  async #postAuth(path, json, bearer) {
    /** @type {Record<string, string>} */
    const headers = { 'X-CSRF': '1', Accept: 'application/json' };
    if (json !== undefined) headers['Content-Type'] = 'application/json';
    if (bearer) headers.Authorization = `Bearer ${bearer}`;
    const timeout = this.#options.requestTimeout;
    try {
      return await this.#options.fetch(this.#url(path), {
        method: 'POST',
        credentials: this.#options.credentials,
        cache: 'no-store',
        headers,
        body: json === undefined ? undefined : JSON.stringify(json),
        signal: timeout > 0 && typeof AbortSignal !== 'undefined' && typeof AbortSignal.timeout === 'function'
          ? AbortSignal.timeout(timeout)
          : undefined,
      });
    } catch (cause) {
      throw new AuthError('Could not reach the server. Check your connection and try again.', {
        status: 0,
        code: 'network_error',
        cause,
      });
    }
  }

  /**
   * A ceremony's `{ceremony, publicKey}`, null on 404 (no passkeys here).
   * @param {string} path
   * @param {object | undefined} json
   * @returns {Promise<PasskeyOptions | null>}
   */
  async #ceremonyOptions(path, json) {
    const res = await this.#postAuth(path, json);
    if (res.status === 404) return null;
    if (!res.ok) throw await AuthError.fromResponse(res);
    return res.json();
  }

  /**
   * @param {Response} res
   * @returns {Promise<TokenBody>}
   */
  async #readTokenResponse(res) {
    /** @type {any} */
    let body = null;
    try {
      body = await res.json();
    } catch {
      // handled below
    }
    if (!body || typeof body.access_token !== 'string' || !(Number(body.expires_in) > 0)) {
      throw new AuthError('The server sent an unexpected token response.', {
        status: res.status,
        code: 'invalid_response',
      });
    }
    return {
      access_token: body.access_token,
      token_type: body.token_type,
      expires_in: Number(body.expires_in),
      user: body.user ?? null,
    };
  }

  /**
   * @param {string} path
   * @param {RequestInit} init
   * @param {string | null} token
   */
  #fetchWithToken(path, init, token) {
    const headers = new Headers(init.headers);
    if (token) headers.set('Authorization', `Bearer ${token}`);
    return this.#options.fetch(this.#url(path), { ...init, headers });
  }
}

/**
 * Creates an AuthClient; `options` as in the AuthClient constructor.
 * @param {AuthClientOptions} [options]
 */
export function createAuthClient(options) {
  return new AuthClient(options);
}

export default createAuthClient;
