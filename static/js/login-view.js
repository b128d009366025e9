/**
 * login-view.js — the sign-in form (with passkeys: passkey-login.js) and,
 * for a user with a second factor, its second step: a code from the
 * authenticator app, a recovery code or a passkey, sent with the pending
 * login's `mfa_token`. Errors are said in
 * plain words; a sign-in that can no longer finish (five wrong codes, or
 * over five minutes old) goes back to the password.
 */
import { $, show, whileBusy } from './dom.js';
import { factorFields } from './factor-fields.js';
import { createPasskeyLogin, passkeyRefused } from './passkey-login.js';
import { ceremonyProblem, passkeyProof, passkeysSupported } from './webauthn.js';

/** How long the gateway keeps a pending login, and how many wrong codes end it. */
const PENDING_MS = 5 * 60 * 1000;
const WRONG_CODES = 5;

const ENDED = {
  expired: 'This sign-in took more than 5 minutes and has expired. Enter your password again.',
  wrong: 'Too many wrong codes: this sign-in has ended. Enter your password again.',
  unsupported: 'This account needs a passkey to finish signing in, and this browser cannot use passkeys. '
    + 'Try another browser, or ask an administrator for help.',
};

/**
 * @param {{auth: import('./auth-client.js').AuthClient, status: object, onSignedIn: () => void}} deps
 */
export function createLoginView({ auth, status, onSignedIn }) {
  const el = {
    form: $('#login-form'),
    username: $('#username'),
    password: $('#password'),
    submit: $('#login-submit'),
    error: $('#login-error'),
    message: $('#login-message'),
    mfaForm: $('#mfa-form'),
    mfaSubmit: $('#mfa-submit'),
    mfaPasskey: $('#mfa-passkey'),
    intro: $('#mfa-intro'),
    introPasskey: $('#mfa-intro-passkey'),
    mfaError: $('#mfa-error'),
    restart: $('#mfa-restart'),
  };
  const factors = factorFields(el.mfaForm, { onSwitch: () => show(el.mfaError, '') });
  const passkeys = createPasskeyLogin({ auth, error: el.error, onSignedIn: () => signedIn() });
  /** The login waiting for its second factor: `{token, startedAt, wrong, timer}`. */
  let pending = null;
  let retryTimer = null;

  /** "Too many attempts — try again in N s" in `node`, counting down to zero. */
  function showRetryCountdown(node, seconds) {
    clearInterval(retryTimer);
    if (!Number.isFinite(seconds)) {
      show(node, 'Too many attempts — try again later.');
      return;
    }
    const until = Date.now() + seconds * 1000;
    const draw = () => {
      const left = Math.max(0, Math.ceil((until - Date.now()) / 1000));
      if (left === 0) {
        clearInterval(retryTimer);
        show(node, 'You can try again now.');
      } else {
        show(node, `Too many attempts — try again in ${left} s`);
      }
    };
    draw();
    retryTimer = setInterval(draw, 1000);
  }

  /** Drops the pending login and what was typed; the password step shows again. */
  function clearPending() {
    clearTimeout(pending?.timer);
    pending = null;
    clearInterval(retryTimer);
    factors.clear();
    show(el.mfaError, '');
    el.mfaForm.hidden = true;
    el.form.hidden = false;
    el.password.value = '';
  }

  /** Back to the password, saying why (or not); the username stays. */
  function restart(why = '') {
    clearPending();
    passkeys.start();
    show(el.error, why);
    (el.username.value ? el.password : el.username).focus();
  }

  function askSecondFactor({ mfa_token: token, methods = [] }) {
    const offered = ['totp', 'recovery_code'].filter((m) => methods.includes(m));
    const passkey = methods.includes('passkey') && passkeysSupported();
    if (!offered.length && !passkey) {
      restart(ENDED.unsupported);
      return;
    }
    passkeys.stop();
    pending = { token, startedAt: Date.now(), wrong: 0, timer: setTimeout(() => restart(ENDED.expired), PENDING_MS) };
    el.password.value = '';
    show(el.error, '');
    el.form.hidden = true;
    el.mfaForm.hidden = false;
    el.intro.hidden = !offered.length;
    el.introPasskey.hidden = offered.length > 0;
    el.mfaSubmit.hidden = !offered.length;
    el.mfaPasskey.hidden = !passkey;
    factors.offer(offered);
    if (!offered.length) el.mfaPasskey.focus();
  }

  /** A wrong second step: counted as the gateway counts it; ends the pending login at the fifth. */
  function wrongSecondStep(attempt, sentence) {
    attempt.wrong += 1;
    if (attempt.wrong >= WRONG_CODES) restart(ENDED.wrong);
    else if (Date.now() - attempt.startedAt >= PENDING_MS) restart(ENDED.expired);
    else show(el.mfaError, sentence);
  }

  function signedIn() {
    clearPending();
    status.say(`Signed in as ${auth.user?.username ?? el.username.value.trim()}.`);
    onSignedIn();
  }

  el.form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const username = el.username.value.trim();
    const password = el.password.value;
    if (!username || !password) {
      show(el.error, 'Enter your username and password.');
      (username ? el.password : el.username).focus();
      return;
    }
    show(el.error, '');
    clearInterval(retryTimer);
    await whileBusy(el.submit, async () => {
      try {
        await auth.login(username, password); // onChange switches the view
        signedIn();
      } catch (err) {
        if (err.code === 'mfa_required' && err.details?.mfa_token) {
          askSecondFactor(err.details);
          return;
        }
        if (err.status === 429) showRetryCountdown(el.error, err.retryAfter ?? NaN);
        else show(el.error, err.message || 'Sign-in failed.');
        el.password.select();
      }
    }, { label: 'Signing in…' });
  });

  el.mfaForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const attempt = pending;
    if (!attempt) return;
    const { proof, problem } = factors.read();
    if (problem) {
      show(el.mfaError, problem);
      factors.retype();
      return;
    }
    if (Date.now() - attempt.startedAt >= PENDING_MS) {
      restart(ENDED.expired);
      return;
    }
    show(el.mfaError, '');
    clearInterval(retryTimer);
    await whileBusy(el.mfaSubmit, async () => {
      try {
        await auth.loginSecondFactor(attempt.token, proof);
        signedIn();
      } catch (err) {
        if (pending !== attempt) return; // started again meanwhile
        if (err.code === 'invalid_credentials') {
          // the gateway says no more than "wrong": count what ends a pending login
          wrongSecondStep(attempt, factors.wrong());
          if (pending === attempt) factors.retype();
        } else if (err.status === 429) {
          showRetryCountdown(el.mfaError, err.retryAfter ?? NaN);
        } else {
          show(el.mfaError, err.message || 'Sign-in failed.');
        }
      }
    }, { label: 'Verifying…' });
  });

  el.mfaPasskey.addEventListener('click', async () => {
    const attempt = pending;
    if (!attempt) return;
    show(el.mfaError, '');
    await whileBusy(el.mfaPasskey, async () => {
      let proof;
      try {
        proof = await passkeyProof(await auth.secondStepPasskeyOptions(attempt.token));
      } catch (err) {
        if (pending !== attempt) return;
        if (err instanceof DOMException) show(el.mfaError, ceremonyProblem(err) ?? '');
        else if (err.code === 'invalid_credentials') restart(ENDED.expired);
        else show(el.mfaError, passkeyRefused(err));
        return;
      }
      try {
        await auth.loginSecondFactor(attempt.token, proof);
        signedIn();
      } catch (err) {
        if (pending !== attempt) return;
        if (err.code === 'invalid_credentials') wrongSecondStep(attempt, 'That passkey was not accepted. Try again.');
        else show(el.mfaError, passkeyRefused(err));
      }
    }, { label: 'Waiting for your passkey…' });
  });

  el.restart.addEventListener('click', () => restart());

  return {
    /** Shows the form (the password step) with `message` above it, e.g. why the session ended. */
    show(message) {
      clearPending();
      passkeys.start();
      show(el.error, '');
      show(el.message, message);
      if (!el.form.contains(document.activeElement)) el.username.focus();
    },

    /** Forgets what was typed, when a session started (perhaps in another tab). */
    reset() {
      clearPending();
      passkeys.stop();
      show(el.message, '');
    },
  };
}
