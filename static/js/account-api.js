/**
 * account-api.js — the gateway's own account routes (contract §8, §9, §12),
 * called with the access token through AuthClient.fetchApi: the caller's
 * sessions, password, second factors, passkeys and security events, and the admin's
 * user list and event log. Every non-2xx answer becomes an AuthError
 * carrying the gateway's code and message (see api.js).
 */
import { jsonCaller } from './api.js';

/** Binds the account calls to an AuthClient. */
export function accountApi(auth) {
  const call = jsonCaller(auth);
  const user = (id) => `/auth/admin/users/${encodeURIComponent(id)}`;

  return {
    sessions: async () => (await call('/auth/sessions')).sessions,
    endSession: (id) => call(`/auth/sessions/${encodeURIComponent(id)}`, { method: 'DELETE' }),
    changePassword: (currentPassword, newPassword) => call('/auth/password', {
      method: 'POST',
      body: { current_password: currentPassword, new_password: newPassword },
    }),
    /** `{totp, totp_available, passkeys, recovery_codes_left, required}` */
    factors: () => call('/auth/mfa'),
    /** `{secret, otpauth_uri, qr_svg}`, pending until confirmed */
    setUpTotp: () => call('/auth/mfa/totp/setup', { method: 'POST' }),
    /** Turns TOTP on; resolves with the ten recovery codes. */
    confirmTotp: async (code) => (await call('/auth/mfa/totp/confirm', { method: 'POST', body: { code } }))
      .recovery_codes,
    removeTotp: () => call('/auth/mfa/totp', { method: 'DELETE' }),
    /** Ten new recovery codes; the old ones die. */
    newRecoveryCodes: async () => (await call('/auth/mfa/recovery-codes', { method: 'POST' })).recovery_codes,
    /** Request options for confirming it is you with a passkey: `{ceremony, publicKey}`. */
    stepUpPasskeyOptions: () => call('/auth/step-up/passkey-options', { method: 'POST' }),
    /** The caller's passkeys: `[{id, name, created_at, last_used_at}]`. */
    passkeys: async () => (await call('/auth/passkeys')).passkeys,
    /** Creation options for a new passkey: `{ceremony, publicKey}` (needs a recent sign-in). */
    passkeyOptions: () => call('/auth/passkeys/options', { method: 'POST' }),
    /** Stores the passkey made for `ceremony`; resolves with `{id, name, created_at}`. */
    addPasskey: (ceremony, credential, name) => call('/auth/passkeys', {
      method: 'POST',
      body: { ceremony, credential, name },
    }),
    renamePasskey: (id, name) => call(`/auth/passkeys/${encodeURIComponent(id)}`, { method: 'PATCH', body: { name } }),
    removePasskey: (id) => call(`/auth/passkeys/${encodeURIComponent(id)}`, { method: 'DELETE' }),
    /** The caller's last 100 security events, newest first (contract §12). */
    activity: async () => (await call('/auth/activity')).events,
    /** The identity providers the caller's account is linked to: `[{id, name}]`. */
    linkedProviders: async () => (await call('/auth/oidc/links')).providers,
    users: async () => (await call('/auth/admin/users')).users,
    /**
     * A page of every user's events, newest first: `{events, next}`. `filters`
     * may hold `user` (an id), `kind`, `before` (a page's `next`) and `limit`.
     */
    events: (filters = {}) => {
      const query = new URLSearchParams(Object.entries(filters).filter(([, v]) => v !== undefined && v !== null && v !== ''))
        .toString();
      return call(`/auth/admin/events${query ? `?${query}` : ''}`);
    },
    setRoles: (id, roles) => call(`${user(id)}/roles`, { method: 'PUT', body: { roles } }),
    disable: (id) => call(`${user(id)}/disable`, { method: 'POST' }),
    enable: (id) => call(`${user(id)}/enable`, { method: 'POST' }),
    endSessions: (id) => call(`${user(id)}/sessions`, { method: 'DELETE' }),
    resetFactors: (id) => call(`${user(id)}/mfa/reset`, { method: 'POST' }),
  };
}
