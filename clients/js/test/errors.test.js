// The contract's error shape (§2, §12) as a typed AuthError, and the first
// visit's 401 from /auth/refresh, which is no error at all.
import assert from 'node:assert/strict';
import { mock, test } from 'node:test';

import { AuthError } from '../src/auth-client.js';
import { clientsPerTest } from './support/clients.js';
import { gateway, json, tokenResponse } from './support/gateway.js';

const client = clientsPerTest();

/** The rejection of `promise`, which must be an AuthError. */
async function rejection(promise) {
  const err = await promise.then(() => assert.fail('expected a rejection'), (e) => e);
  assert.ok(err instanceof AuthError, `an AuthError, got ${err}`);
  return err;
}

test('a refused login maps to code, message and status', async () => {
  const gw = gateway({
    'POST /auth/login': json(401, { error: 'invalid_credentials', message: 'Wrong username or password.' }),
  });
  const err = await rejection(client(gw.fetch).login('ann', 'wrong'));
  assert.equal(err.status, 401);
  assert.equal(err.code, 'invalid_credentials');
  assert.equal(err.message, 'Wrong username or password.');
  assert.equal(err.reason, null);
  assert.equal(err.cause, null);
  assert.equal(err.name, 'AuthError');
});

test('a 429 carries Retry-After in seconds', async () => {
  const gw = gateway({
    'POST /auth/login': json(429, { error: 'too_many_attempts', message: 'Too many attempts.' }, { 'Retry-After': '42' }),
  });
  const err = await rejection(client(gw.fetch).login('ann', 'pw'));
  assert.equal(err.code, 'too_many_attempts');
  assert.equal(err.retryAfter, 42);
});

test('an answer that is not the contract\'s JSON still says its status', async () => {
  const gw = gateway({
    'POST /auth/login': new Response('<html>Bad Gateway</html>', { status: 502, statusText: 'Bad Gateway' }),
  });
  const err = await rejection(client(gw.fetch).login('ann', 'pw'));
  assert.equal(err.code, 'http_502');
  assert.equal(err.status, 502);
  assert.equal(err.details, null);
  assert.match(err.message, /HTTP 502 Bad Gateway/);
});

test('a network failure is network_error with status 0 and the failure as its cause', async () => {
  const failure = new TypeError('fetch failed');
  const gw = gateway({ 'POST /auth/login': failure });
  const err = await rejection(client(gw.fetch).login('ann', 'pw'));
  assert.equal(err.code, 'network_error');
  assert.equal(err.status, 0);
  assert.equal(err.cause, failure);
});

test('a reuse ends the session with its reason and cause, on the error and for the listeners', async () => {
  const body = {
    error: 'refresh_token_reused',
    message: 'This session was ended.',
    reason: 'reuse_detected',
    cause: 'successor_used',
  };
  const gw = gateway({ 'POST /auth/login': tokenResponse(), 'POST /auth/refresh': json(401, body) });
  const auth = client(gw.fetch);
  await auth.login('ann', 'pw');
  const states = [];
  auth.onChange((state) => states.push(state));
  assert.equal(await auth.refresh(), false);
  const [state] = states;
  assert.equal(state.reason, 'refresh_token_reused');
  assert.equal(state.user, null);
  assert.deepEqual(state.ended, { reason: 'reuse_detected', cause: 'successor_used' });
  assert.ok(state.error instanceof AuthError);
  assert.equal(state.error.code, 'refresh_token_reused');
  assert.equal(state.error.reason, 'reuse_detected');
  assert.equal(state.error.cause, 'successor_used');
});

test('the first visit\'s 401 from /auth/refresh settles as logged out and logs nothing', async () => {
  const logged = [];
  for (const level of ['error', 'warn', 'log', 'info']) {
    mock.method(console, level, (...args) => logged.push([level, ...args]));
  }
  const gw = gateway({
    'POST /auth/refresh': json(401, { error: 'missing_refresh_token', message: 'No session.' }),
  });
  const auth = client(gw.fetch);
  const states = [];
  auth.onChange((state) => states.push(state));
  const snapshot = await auth.init();
  assert.equal(snapshot.user, null);
  assert.deepEqual(states.map((s) => s.reason), ['logged_out']);
  assert.equal(states[0].ended, null);
  assert.deepEqual(logged, []);
  const [call] = gw.calls;
  assert.equal(call.headers.get('X-CSRF'), '1', 'the refresh carries the CSRF header');
});

test('init() that cannot reach the gateway settles as unavailable and never rejects', async () => {
  const gw = gateway({ 'POST /auth/refresh': new TypeError('fetch failed') });
  const auth = client(gw.fetch);
  const states = [];
  auth.onChange((state) => states.push(state));
  await auth.init();
  assert.deepEqual(states.map((s) => s.reason), ['unavailable']);
  assert.equal(states[0].error?.code, 'network_error');
});
