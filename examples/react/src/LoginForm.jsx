// The password, then (for a user with a second factor) a code from the
// authenticator app or a recovery code, sent with the pending login's
// mfa_token (contract §9).
import { useState } from 'react';
import { AuthError } from '@portcullis/client';

import { auth } from './auth.js';

const FACTOR_LABELS = { totp: 'Code from your authenticator app', recovery_code: 'Recovery code' };

/** An AuthError in plain words. */
function say(err) {
  if (!(err instanceof AuthError)) return 'Something went wrong. Try again.';
  if (err.code === 'too_many_attempts' && err.retryAfter !== null) return `Too many attempts — try again in ${err.retryAfter} s.`;
  return err.message;
}

export function LoginForm() {
  const [pending, setPending] = useState(null); // {mfaToken, methods}
  const [factor, setFactor] = useState('totp');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  async function run(task) {
    setBusy(true);
    setError('');
    try {
      await task();
    } catch (err) {
      if (err instanceof AuthError && err.code === 'mfa_required') {
        const methods = (err.details?.methods ?? []).filter((m) => m in FACTOR_LABELS);
        setPending({ mfaToken: err.details?.mfa_token, methods });
        setFactor(methods[0] ?? 'totp');
      } else {
        setError(say(err));
      }
    } finally {
      setBusy(false);
    }
  }

  function onPassword(event) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    run(() => auth.login(String(form.get('username')), String(form.get('password'))));
  }

  function onSecondFactor(event) {
    event.preventDefault();
    const code = String(new FormData(event.currentTarget).get('code')).trim();
    run(() => auth.loginSecondFactor(pending.mfaToken, { [factor]: code }));
  }

  if (pending) {
    const other = pending.methods.find((m) => m !== factor);
    return (
      <form id="second-step" onSubmit={onSecondFactor}>
        <label>
          {FACTOR_LABELS[factor]}
          <input name="code" id="code" data-factor={factor} autoComplete="one-time-code" required autoFocus />
        </label>
        {error && <p role="alert" id="login-error">{error}</p>}
        <button id="verify" disabled={busy}>Verify</button>
        {other && (
          <button type="button" id="use-other" onClick={() => setFactor(other)}>
            Use {FACTOR_LABELS[other].toLowerCase()} instead
          </button>
        )}
        <button type="button" onClick={() => setPending(null)}>Start again</button>
      </form>
    );
  }
  return (
    <form id="login" onSubmit={onPassword}>
      <label>Username <input name="username" id="username" autoComplete="username" required /></label>
      <label>Password <input name="password" id="password" type="password" autoComplete="current-password" required /></label>
      {error && <p role="alert" id="login-error">{error}</p>}
      <button id="sign-in" disabled={busy}>Sign in</button>
    </form>
  );
}
