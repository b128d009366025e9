// RFC 9470 step-up challenges in WWW-Authenticate (RFC 9110 §11.6.1).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { parseWwwAuthenticate, stepUpChallenge } from '../src/auth-client.js';

test('the gateway\'s step-up challenge gives what it asks for', () => {
  const header = 'Bearer error="insufficient_user_authentication", '
    + 'error_description="A second factor is required", acr_values="mfa", max_age=300';
  assert.deepEqual(stepUpChallenge(header), {
    acrValues: ['mfa'],
    maxAge: 300,
    description: 'A second factor is required',
  });
});

test('only the parameters that apply may be sent, max_age quoted or not', () => {
  assert.deepEqual(stepUpChallenge('Bearer error="insufficient_user_authentication", max_age="60"'), {
    acrValues: [],
    maxAge: 60,
    description: null,
  });
  assert.deepEqual(stepUpChallenge('bearer ERROR=insufficient_user_authentication, acr_values="mfa phr"'), {
    acrValues: ['mfa', 'phr'],
    maxAge: null,
    description: null,
  });
});

test('a challenge behind another scheme\'s is found', () => {
  const header = 'Basic realm="legacy, with a comma", Bearer realm="api", '
    + 'error="insufficient_user_authentication", acr_values="mfa"';
  assert.deepEqual(parseWwwAuthenticate(header).map((c) => c.scheme), ['basic', 'bearer']);
  assert.equal(parseWwwAuthenticate(header)[0].params.realm, 'legacy, with a comma');
  assert.deepEqual(stepUpChallenge(header)?.acrValues, ['mfa']);
});

test('other Bearer errors and other schemes are no step-up', () => {
  assert.equal(stepUpChallenge('Bearer error="invalid_token"'), null);
  assert.equal(stepUpChallenge('Basic error="insufficient_user_authentication"'), null);
  assert.equal(stepUpChallenge(null), null);
  assert.equal(stepUpChallenge(''), null);
});

test('quoted-strings are unescaped, names lower-cased, the first of a repeat counts', () => {
  const [challenge] = parseWwwAuthenticate('Bearer Error="a \\"quoted\\" \\\\ value", error="second"');
  assert.equal(challenge.params.error, 'a "quoted" \\ value');
  assert.equal(Object.keys(challenge.params).length, 1);
});

test('a token68 is kept apart from parameters', () => {
  assert.deepEqual(parseWwwAuthenticate('Negotiate abc+/def==, Bearer error="invalid_token"'), [
    { scheme: 'negotiate', params: {}, token68: 'abc+/def==' },
    { scheme: 'bearer', params: { error: 'invalid_token' }, token68: null },
  ].map((c) => ({ ...c, params: Object.assign(Object.create(null), c.params) })));
});

test('parsing stops at a malformed part and keeps what came before', () => {
  const challenges = parseWwwAuthenticate('Bearer error="invalid_token", Basic realm="unterminated');
  assert.deepEqual(challenges.map((c) => c.scheme), ['bearer', 'basic']);
  assert.equal(challenges[0].params.error, 'invalid_token');
  assert.equal(challenges[1].params.realm, undefined);
});
