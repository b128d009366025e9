/**
 * api.js — calls through the gateway with the access token: the one JSON
 * call every API module makes (`jsonCaller`), and the employee calls on the
 * /api proxy. Every non-2xx answer becomes an AuthError with the gateway's
 * code and message, so the caller can show it; nothing is swallowed here.
 */
import { AuthError } from './auth-client.js';

/**
 * Binds `call(path, {method, body})` to an AuthClient: JSON in and out,
 * resolving with the parsed body (null for an empty one), rejecting with an
 * AuthError (status 0 when the server could not be reached).
 */
export function jsonCaller(auth) {
  return async function call(path, { method = 'GET', body } = {}) {
    const init = { method, headers: { Accept: 'application/json' } };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await auth.fetchApi(path, init);
    } catch (cause) {
      throw new AuthError('Could not reach the server. Check your connection and try again.', { cause });
    }
    if (!res.ok) throw await AuthError.fromResponse(res);
    const text = res.status === 204 ? '' : await res.text();
    if (!text) return null;
    try {
      return JSON.parse(text);
    } catch {
      throw new AuthError('The server sent a response that is not JSON.', {
        status: res.status,
        code: 'invalid_response',
      });
    }
  };
}

/** Binds the employee calls to an AuthClient. */
export function employeeApi(auth) {
  const call = jsonCaller(auth);
  const item = (id) => `/api/employees/${encodeURIComponent(id)}`;

  return {
    async list() {
      const data = await call('/api/employees');
      if (!Array.isArray(data)) {
        throw new AuthError('Expected a list of employees from the server.', { code: 'invalid_response' });
      }
      return data;
    },
    create: (employee) => call('/api/employees', { method: 'POST', body: employee }),
    update: (id, employee) => call(item(id), { method: 'PUT', body: employee }),
    remove: (id) => call(item(id), { method: 'DELETE' }),
  };
}
