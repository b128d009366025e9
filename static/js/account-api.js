/**
 * account-api.js — the gateway's own account routes (contract §8), called
 * with the access token through AuthClient.fetchApi: the caller's sessions
 * and password, and the admin's user list. Every non-2xx answer becomes an
 * ApiError carrying the gateway's code and message.
 */
import { ApiError } from './api.js';

async function errorFrom(res) {
  let body = null;
  try {
    body = await res.json();
  } catch {
    // not JSON: fall back to the status
  }
  const message = typeof body?.message === 'string' && body.message
    ? body.message
    : `Request failed: HTTP ${res.status}.`;
  const error = new ApiError(message, { status: res.status, code: body?.error ?? null });
  const retry = Number(res.headers.get('Retry-After'));
  error.retryAfter = Number.isFinite(retry) && retry > 0 ? retry : null;
  return error;
}

/** Binds the account calls to an AuthClient. */
export function accountApi(auth) {
  async function call(path, { method = 'GET', body } = {}) {
    const init = { method, headers: { Accept: 'application/json' } };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await auth.fetchApi(path, init);
    } catch {
      throw new ApiError('Could not reach the server. Check your connection and try again.');
    }
    if (!res.ok) throw await errorFrom(res);
    return res.status === 204 ? null : res.json();
  }

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
