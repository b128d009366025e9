/**
 * passkey-login.js — signing in with a passkey from the login form: the
 * browser offers this site's passkeys in the username field's autofill
 * (conditional mediation) while the form shows, and "Sign in with a
 * passkey" asks for one in the browser's own dialog. Both end in
 * `POST /auth/passkey/login`. A gateway without passkeys (its options
 * answer 404) or a browser without them shows neither.
 */
import { $, show, whileBusy } from './dom.js';
import { tooManyAttempts } from './factor-fields.js';
import { autofillSupported, ceremonyProblem, passkeysSupported, usePasskey } from './webauthn.js';

/** Ceremonies live 5 minutes: the autofill asks for a fresh one before that. */
const RENEW_MS = 4 * 60 * 1000;
/** After the browser refused the autofill request: wait this long, doubling up to RENEW_MS. */
const RETRY_MS = 5000;

/** What to say when the gateway refused a passkey sign-in. */
export function passkeyRefused(err) {
  if (err.code === 'invalid_credentials') {
    return 'That passkey was not accepted: it may have been removed from your account, '
      + 'or the account is disabled.';
  }
  if (err.status === 429) return tooManyAttempts(err);
  return err.message || 'Sign-in failed.';
}

/**
 * @param {{auth: import('./auth-client.js').AuthClient, error: HTMLElement,
 *          onSignedIn: () => void}} deps `error` is where problems are said
 */
export function createPasskeyLogin({ auth, error, onSignedIn }) {
  const el = { button: $('#passkey-login') };
  /** The autofill request waiting: `{controller, timer}`, or null. */
  let waiting = null;
  let active = false;
  /** How long to wait before asking the browser again after it refused. */
  let retryIn = RETRY_MS;

  /** Asks again later (a ceremony row each time: never in a tight loop). */
  function retryLater(mine) {
    mine.timer = setTimeout(autofill, retryIn);
    retryIn = Math.min(retryIn * 2, RENEW_MS);
  }

  function stopAutofill() {
    if (!waiting) return;
    clearTimeout(waiting.timer);
    waiting.controller.abort();
    waiting = null;
  }

  /** Options for a sign-in, or null (and both ways hidden) when the gateway has no passkeys. */
  async function options() {
    const answer = await auth.passkeyLoginOptions();
    if (!answer) el.button.hidden = true;
    return answer;
  }

  async function finish(ceremony, credential) {
    await auth.loginWithPasskey(ceremony, credential);
    onSignedIn();
  }

  /** Waits for the user to pick a passkey in the autofill, until stopped or signed in. */
  async function autofill() {
    stopAutofill();
    if (!active || !(await autofillSupported())) return;
    const mine = { controller: new AbortController(), timer: null };
    waiting = mine;
    let answer;
    try {
      answer = await options();
    } catch {
      return; // the gateway is unreachable: the password form still works
    }
    if (!answer || waiting !== mine) return;
    mine.timer = setTimeout(autofill, RENEW_MS);
    let credential;
    try {
      credential = await usePasskey(answer.publicKey, { mediation: 'conditional', signal: mine.controller.signal });
    } catch (err) {
      if (waiting !== mine || err?.name === 'AbortError') return;
      clearTimeout(mine.timer);
      // another address than the one passkeys are bound to: asking again
      // cannot help (the button says why when pressed)
      if (err?.name !== 'SecurityError') retryLater(mine);
      return;
    }
    if (waiting !== mine) return;
    stopAutofill();
    retryIn = RETRY_MS;
    try {
      await finish(answer.ceremony, credential);
    } catch (err) {
      show(error, passkeyRefused(err));
      if (active) {
        waiting = { controller: new AbortController(), timer: null };
        retryLater(waiting);
      }
    }
  }

  el.button.addEventListener('click', async () => {
    stopAutofill(); // one WebAuthn request at a time
    show(error, '');
    await whileBusy(el.button, async () => {
      try {
        const answer = await options();
        if (!answer) {
          show(error, 'This gateway does not offer passkeys: sign in with your password.');
          return;
        }
        let credential;
        try {
          credential = await usePasskey(answer.publicKey);
        } catch (err) {
          show(error, ceremonyProblem(err) ?? '');
          return;
        }
        await finish(answer.ceremony, credential);
      } catch (err) {
        show(error, passkeyRefused(err));
      }
    }, { label: 'Waiting for your passkey…' });
    if (active) autofill();
  });

  return {
    /** The form shows: offer passkeys. */
    start() {
      active = true;
      el.button.hidden = !passkeysSupported();
      autofill();
    },

    /** The form is gone (signed in, or the second step): stop asking the browser. */
    stop() {
      active = false;
      stopAutofill();
    },
  };
}
