/**
 * api.js — the employee calls, made through the gateway's /api proxy.
 * Every non-2xx answer becomes an ApiError with the server's message, so the
 * caller can show it; nothing is swallowed here.
 */

/** A non-2xx answer from /api (or the network failing). */
export class ApiError extends Error {
  constructor(message, { status = 0, code = null } = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

async function errorFrom(res) {
  let body = null;
  try {
    body = await res.json();
  } catch {
    // not JSON: use the status line below
  }
  const message = typeof body?.message === 'string' && body.message
    ? body.message
    : `Request failed: HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}.`;
  return new ApiError(message, { status: res.status, code: body?.error ?? null });
}

/** Binds the employee calls to an AuthClient. */
export function employeeApi(auth) {
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
    if (res.status === 204) return null;
    const text = await res.text();
    if (!text) return null;
    try {
      return JSON.parse(text);
    } catch {
      throw new ApiError('The server sent a response that is not JSON.', { status: res.status });
    }
  }

  const item = (id) => `/api/employees/${encodeURIComponent(id)}`;

  return {
    async list() {
      const data = await call('/api/employees');
      if (!Array.isArray(data)) throw new ApiError('Expected a list of employees from the server.');
      return data;
    },
    create: (employee) => call('/api/employees', { method: 'POST', body: employee }),
    update: (id, employee) => call(item(id), { method: 'PUT', body: employee }),
    remove: (id) => call(item(id), { method: 'DELETE' }),
  };
}
