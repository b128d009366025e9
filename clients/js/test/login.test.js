// Logging in with the second step (§9), the step-up challenge answered
// through onStepUp and the refused call retried once, a refused token
// refreshed and retried once, and WebSocket tickets (§11).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { AuthError } from '../src/auth-client.js';
import { clientsPerTest } from './support/clients.js';
import { gateway, json, settle, tokenResponse } from './support/gateway.js';

const client = clientsPerTest();

const STEP_UP = {
  'WWW-Authenticate': 'Bearer error="insufficient_user_authentication", acr_values="mfa", max_age=300',
};
const stepUpBody = { error: 'insufficient_user_authentication', message: 'Confirm it is you.', acr_values: 'mfa', max_age: 300 };

test('a password that needs a second step rejects with mfa_required, and the second step logs in', async () => {
  const gw = gateway({
    'POST /auth/login': json(401, { error: 'mfa_required', message: 'A second factor is needed.', mfa_token: 'mfa-1', methods: ['totp', 'recovery_code'] }),
    'POST /auth/login/mfa': tokenResponse(),
  });
  const auth = client(gw.fetch);
  const err = await auth.login('ann', 'pw').catch((e) => e);
  assert.ok(err instanceof AuthError);
  assert.equal(err.code, 'mfa_required');
  assert.equal(err.details?.mfa_token, 'mfa-1');
  assert.deepEqual(err.details?.methods, ['totp', 'recovery_code']);
  assert.equal(auth.user, null, 'no session after the password alone');

  const user = await auth.loginSecondFactor('mfa-1', { totp: '123456' });
  assert.equal(user?.username, 'ann');
  assert.ok(auth.accessToken);
  const second = gw.calls.find((c) => c.route === 'POST /auth/login/mfa');
  assert.deepEqual(second?.body, { totp: '123456', mfa_token: 'mfa-1' });
  assert.equal(second?.headers.get('X-CSRF'), '1');
});

test('the second step sends any factor\'s body as it is', async () => {
  const gw = gateway({ 'POST /auth/login/mfa': tokenResponse() });
  const auth = client(gw.fetch);
  await auth.loginSecondFactor('mfa-2', { ceremony: 'c-1', credential: { id: 'cred' } });
  assert.deepEqual(gw.calls[0].body, { ceremony: 'c-1', credential: { id: 'cred' }, mfa_token: 'mfa-2' });
});

test('a step-up challenge asks the app once, steps up, and retries the call once with the new token', async () => {
  const gw = gateway({
    'POST /auth/login': tokenResponse(300, 'ann', 'token-pwd'),
    'POST /auth/step-up': tokenResponse(300, 'ann', 'token-mfa'),
    'POST /api/payroll': (call) => (call.headers.get('Authorization') === 'Bearer token-mfa'
      ? json(200, { ok: true })
      : json(401, stepUpBody, STEP_UP)),
  });
  const asked = [];
  const auth = client(gw.fetch, {
    onStepUp: async (request) => {
      asked.push(request);
      await request.stepUp({ totp: '654321' });
    },
  });
  await auth.login('ann', 'pw');
  const [first, second] = await Promise.all([
    auth.fetchApi('/api/payroll', { method: 'POST', body: '{}' }),
    auth.fetchApi('/api/payroll', { method: 'POST', body: '{}' }),
  ]);
  assert.equal(first.status, 200);
  assert.equal(second.status, 200);
  assert.equal(asked.length, 1, 'calls refused together share one question');
  assert.deepEqual(asked[0].acrValues, ['mfa']);
  assert.equal(asked[0].maxAge, 300);
  assert.equal(asked[0].path, '/api/payroll');
  const stepUp = gw.calls.find((c) => c.route === 'POST /auth/step-up');
  assert.equal(stepUp?.headers.get('Authorization'), 'Bearer token-pwd');
  assert.deepEqual(stepUp?.body, { totp: '654321' });
  assert.equal(gw.count('POST /api/payroll'), 4, 'each call was sent twice: refused, then retried');
  assert.equal(auth.accessToken, 'token-mfa');
});

test('a step-up the user does not complete returns the 401 as it is, without a retry', async () => {
  const gw = gateway({
    'POST /auth/login': tokenResponse(),
    'GET /api/payroll': json(401, stepUpBody, STEP_UP),
  });
  const auth = client(gw.fetch, { onStepUp: async () => {} });
  await auth.login('ann', 'pw');
  const res = await auth.fetchApi('/api/payroll');
  assert.equal(res.status, 401);
  assert.equal(gw.count('GET /api/payroll'), 1);
});

test('without onStepUp the challenge comes back to the caller', async () => {
  const gw = gateway({ 'POST /auth/login': tokenResponse(), 'GET /api/payroll': json(401, stepUpBody, STEP_UP) });
  const auth = client(gw.fetch);
  await auth.login('ann', 'pw');
  const res = await auth.fetchApi('/api/payroll');
  assert.equal(res.status, 401);
  assert.equal(res.headers.get('WWW-Authenticate'), STEP_UP['WWW-Authenticate']);
});

test('a refused token is refreshed once and the call retried once', async () => {
  const gw = gateway({
    'POST /auth/login': tokenResponse(300, 'ann', 'token-old'),
    'POST /auth/refresh': tokenResponse(300, 'ann', 'token-new'),
    'GET /api/employees': (call) => (call.headers.get('Authorization') === 'Bearer token-new'
      ? json(200, [])
      : json(401, { error: 'invalid_token', message: 'Expired.' }, { 'WWW-Authenticate': 'Bearer error="invalid_token"' })),
  });
  const auth = client(gw.fetch);
  await auth.login('ann', 'pw');
  const res = await auth.fetchApi('/api/employees');
  assert.equal(res.status, 200);
  assert.equal(gw.count('POST /auth/refresh'), 1);
  assert.equal(gw.count('GET /api/employees'), 2);
});

test('an upstream\'s own 401 (no Bearer challenge) is not retried', async () => {
  const gw = gateway({
    'POST /auth/login': tokenResponse(),
    'POST /api/password': json(401, { error: 'invalid_credentials', message: 'Wrong current password.' }),
  });
  const auth = client(gw.fetch);
  await auth.login('ann', 'pw');
  const res = await auth.fetchApi('/api/password', { method: 'POST', body: '{}' });
  assert.equal(res.status, 401);
  assert.equal(gw.count('POST /auth/refresh'), 0);
  assert.equal(gw.count('POST /api/password'), 1);
});

test('a WebSocket connects with a fresh ticket on the gateway\'s ws: URL', async () => {
  const opened = [];
  globalThis.WebSocket = class {
    constructor(url, protocols) {
      opened.push({ url, protocols });
    }
    addEventListener() {}
    close() {}
  };
  try {
    const gw = gateway({
      'POST /auth/login': tokenResponse(300, 'ann', 'token-ws'),
      'POST /auth/ws-ticket': json(200, { ticket: 't-1', expires_in: 30 }),
    });
    const auth = client(gw.fetch, { baseUrl: 'http://gateway.test' });
    await auth.login('ann', 'pw');
    const handle = auth.openSocket('/api/feed', { protocols: 'feed.v1' });
    await settle();
    assert.deepEqual(opened, [{ url: 'ws://gateway.test/api/feed?ticket=t-1', protocols: 'feed.v1' }]);
    const ticket = gw.calls.find((c) => c.route === 'POST /auth/ws-ticket');
    assert.equal(ticket?.headers.get('Authorization'), 'Bearer token-ws');
    handle.close();
  } finally {
    delete globalThis.WebSocket;
  }
});
