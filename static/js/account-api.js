/**
 * account-api.js — the gateway's own account routes (contract §8),
 * called with the access token through AuthClient.fetchApi: the caller's
 * sessions and password, and the admin's user list. Every
 * non-2xx answer becomes an AuthError carrying the gateway's code and
 * message (see api.js).
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
    users: async () => (await call('/auth/admin/users')).users,
    setRoles: (id, roles) => call(`${user(id)}/roles`, { method: 'PUT', body: { roles } }),
    disable: (id) => call(`${user(id)}/disable`, { method: 'POST' }),
    enable: (id) => call(`${user(id)}/enable`, { method: 'POST' }),
    endSessions: (id) => call(`${user(id)}/sessions`, { method: 'DELETE' }),
  };
}
