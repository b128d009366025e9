// The silent refresh: when it runs (on a mocked clock), how it backs off
// after a transient failure, and single-flight within a tab and across
// tabs (Web Locks and a BroadcastChannel, as in a browser).
import assert from 'node:assert/strict';
import { mock, test } from 'node:test';

import { clientsPerTest } from './support/clients.js';
import { freshChannel, gateway, json, settle, tokenResponse } from './support/gateway.js';

const client = clientsPerTest({ requestTimeout: 0 });

/** Moves the mocked clock on by `ms` and lets what came due finish. */
async function advance(ms) {
  mock.timers.tick(ms);
  await settle();
}

test('the token is renewed 60 s before it expires, or 20 % of a short lifetime before', async () => {
  mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'], now: 1_000_000 });
  const gw = gateway({ 'POST /auth/login': tokenResponse(300), 'POST /auth/refresh': tokenResponse(30) });
  const auth = client(gw.fetch);
  const reasons = [];
  auth.onChange(({ reason }) => reasons.push(reason));
  await auth.login('ann', 'pw');
  assert.equal(auth.expiresAt, 1_000_000 + 300_000);

  await advance(239_000);
  assert.equal(gw.count('POST /auth/refresh'), 0, 'not before 240 s');
  await advance(1_000);
  assert.equal(gw.count('POST /auth/refresh'), 1, 'at 240 s, 60 s before expiry');
  assert.equal(auth.refreshCount, 1);

  // a 30 s token: renewed 6 s (20 %) before it expires
  await advance(23_000);
  assert.equal(gw.count('POST /auth/refresh'), 1, 'not before 24 s');
  await advance(1_000);
  assert.equal(gw.count('POST /auth/refresh'), 2, 'at 24 s');
  assert.deepEqual(reasons, ['login', 'refresh', 'refresh']);
});

test('a background refresh that fails for a transient reason keeps the session and retries after 5 s, then 10 s', async () => {
  mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'], now: 0 });
  const unavailable = json(503, { error: 'unavailable', message: 'Try again.' });
  const gw = gateway({
    'POST /auth/login': tokenResponse(100),
    'POST /auth/refresh': [unavailable, unavailable, tokenResponse(100)],
  });
  const auth = client(gw.fetch);
  const states = [];
  auth.onChange((state) => states.push(state));
  await auth.login('ann', 'pw');

  await advance(80_000); // 20 s before expiry
  assert.equal(gw.count('POST /auth/refresh'), 1);
  assert.equal(states.at(-1)?.reason, 'refresh_failed');
  assert.equal(states.at(-1)?.error?.code, 'unavailable');
  assert.ok(auth.user, 'the session is kept');

  await advance(4_999);
  assert.equal(gw.count('POST /auth/refresh'), 1, 'the first retry waits 5 s');
  await advance(1);
  assert.equal(gw.count('POST /auth/refresh'), 2);
  await advance(9_999);
  assert.equal(gw.count('POST /auth/refresh'), 2, 'the second waits 10 s');
  await advance(1);
  assert.equal(gw.count('POST /auth/refresh'), 3);
  assert.deepEqual(states.map((s) => s.reason), ['login', 'refresh_failed', 'refresh_failed', 'refresh']);
});

test('concurrent refreshes in one tab share one request', async () => {
  const gw = gateway({ 'POST /auth/refresh': tokenResponse() });
  const auth = client(gw.fetch);
  const results = await Promise.all([auth.refresh(), auth.refresh(), auth.init(), auth.refresh()]);
  assert.deepEqual(results.filter((r) => typeof r === 'boolean'), [true, true, true]);
  assert.equal(gw.count('POST /auth/refresh'), 1);
});

test('two tabs refreshing at once call the gateway once; the other adopts the token', async () => {
  const gw = gateway({ 'POST /auth/refresh': tokenResponse(300, 'ann', 'token-shared') });
  const channelName = freshChannel();
  const first = client(gw.fetch, { channelName, handoffDelay: 50 });
  const second = client(gw.fetch, { channelName, handoffDelay: 50 });
  const heard = [];
  second.onChange(({ reason }) => heard.push(reason));
  // both open the channel first, as tabs that have been running do
  first.onChange(() => {});
  const [a, b] = await Promise.all([first.refresh(), second.refresh()]);
  assert.deepEqual([a, b], [true, true]);
  assert.equal(gw.count('POST /auth/refresh'), 1, 'one rotation for both tabs');
  assert.equal(second.accessToken, 'token-shared');
  assert.deepEqual(heard, ['adopted']);
});

test('a login in one tab reaches the other, and so does a logout', async () => {
  const gw = gateway({
    'POST /auth/login': tokenResponse(300, 'ann', 'token-login'),
    'POST /auth/refresh': json(401, { error: 'missing_refresh_token', message: 'No session.' }),
    'POST /auth/logout': new Response(null, { status: 204 }),
  });
  const channelName = freshChannel();
  const first = client(gw.fetch, { channelName });
  const second = client(gw.fetch, { channelName });
  await Promise.all([first.init(), second.init()]);
  // news is dated in ms: a token issued in the very ms of this tab's own
  // logout would be taken for older than it
  await new Promise((resolve) => setTimeout(resolve, 5));
  const heard = [];
  second.onChange(({ reason }) => heard.push(reason));
  await first.login('ann', 'pw');
  await settle();
  assert.equal(second.accessToken, 'token-login');
  await first.logout();
  await settle();
  assert.equal(second.user, null);
  assert.deepEqual(heard, ['login_elsewhere', 'logout_elsewhere']);
});
