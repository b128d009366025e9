// A gateway in a function: the injected `fetch` of the tests. Each route
// answers from a queue of responses (the last one repeats), and every call
// is recorded with its method, path, headers and JSON body.

/** A Response with a JSON body, as the gateway sends them. */
export function json(status, body, headers = {}) {
  return new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json', ...headers },
  });
}

let issued = 0;
/** A TokenResponse for `username`, with the access token `token` (else a fresh one). */
export function tokenResponse(expiresIn = 300, username = 'ann', token = undefined) {
  issued += 1;
  return json(200, {
    access_token: token ?? `token-${issued}`,
    token_type: 'Bearer',
    expires_in: expiresIn,
    user: { id: '7f0c', username, roles: ['user'] },
  });
}

/**
 * `routes`: `{'POST /auth/login': [answer, ...]}` where an answer is a
 * Response, a function of the call returning one, or an Error to throw.
 */
export function gateway(routes) {
  const calls = [];
  const queues = new Map(Object.entries(routes).map(([route, answers]) => [route, [answers].flat()]));
  async function fetch(input, init = {}) {
    const url = new URL(String(input), 'http://gateway.test');
    const method = init.method ?? 'GET';
    const route = `${method} ${url.pathname}`;
    const headers = new Headers(init.headers);
    const call = {
      route,
      url: url.href,
      headers,
      body: typeof init.body === 'string' ? JSON.parse(init.body) : null,
    };
    calls.push(call);
    const queue = queues.get(route);
    if (!queue) return json(404, { error: 'not_found', message: `no route ${route} in this test` });
    const answer = queue.length > 1 ? queue.shift() : queue[0];
    if (answer instanceof Error) throw answer;
    const res = typeof answer === 'function' ? await answer(call) : answer;
    return res.clone(); // the last answer repeats: hand out fresh bodies
  }
  return { fetch, calls, count: (route) => calls.filter((c) => c.route === route).length };
}

/**
 * The Web Locks API of a browser (Node 20 has none): exclusive locks by
 * name, granted in request order, held until the callback settles.
 */
export function installWebLocks() {
  const tails = new Map();
  const locks = {
    request(name, callback) {
      const before = tails.get(name) ?? Promise.resolve();
      const run = before.then(() => callback({ name, mode: 'exclusive' }));
      tails.set(name, run.catch(() => {}));
      return run;
    },
  };
  Object.defineProperty(globalThis, 'navigator', { value: { locks }, configurable: true, writable: true });
  return () => delete globalThis.navigator;
}

let channels = 0;
/** A channel name of its own per test, so tests never hear each other. */
export function freshChannel() {
  channels += 1;
  return `portcullis-test-${process.pid}-${channels}`;
}

/** Lets pending promise callbacks and channel messages run. */
export async function settle(rounds = 10) {
  for (let i = 0; i < rounds; i += 1) await new Promise((resolve) => setImmediate(resolve));
}
