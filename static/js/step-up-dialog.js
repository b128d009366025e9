/**
 * step-up-dialog.js — "Confirm it is you": the AuthClient's onStepUp. When
 * the gateway wants a more recent sign-in (max_age) it asks for the
 * password, or a code for a user with an authenticator app, or a passkey;
 * when it wants a second factor (acr_values="mfa") it asks for a code or a
 * passkey. A user who has no second factor yet is sent to set one up
 * instead. A modal <dialog>: focus
 * moves into it and back to where it was when it closes.
 */
import { $, show, whileBusy } from './dom.js';
import { factorFields, tooManyAttempts } from './factor-fields.js';
import { ceremonyProblem, passkeyProof, passkeysSupported } from './webauthn.js';

function minutes(seconds) {
  const n = Math.max(1, Math.round(seconds / 60));
  return `${n} minute${n === 1 ? '' : 's'}`;
}

/** Why the dialog asks, in words; `codes`: whether a code field is offered. */
function reasonFor({ acrValues, maxAge }, codes) {
  const recently = maxAge !== null ? `, and a sign-in from the last ${minutes(maxAge)}` : '';
  if (acrValues.includes('mfa')) {
    const how = codes ? 'enter the code your authenticator app shows now' : 'use your passkey';
    return `This needs your second factor${recently}: ${how}.`;
  }
  return `For your security, confirm it is you: this needs a sign-in from the last ${minutes(maxAge ?? 0)}.`;
}

/**
 * @param {{factors: () => Promise<{totp: boolean, passkeys: object[], required: boolean}|null>,
 *          passkeyOptions: () => Promise<{ceremony: string, publicKey: object}>,
 *          needsSecondFactor: (factors: object|null) => void}} deps `factors` says what the
 *   user has (`GET /auth/mfa`); `passkeyOptions` starts a passkey step-up;
 *   `needsSecondFactor` is called instead of asking when a second factor is
 *   wanted and the user has none
 */
export function createStepUpDialog({ factors, passkeyOptions, needsSecondFactor }) {
  const el = {
    dialog: $('#step-up'),
    form: $('#step-up-form'),
    reason: $('#step-up-reason'),
    error: $('#step-up-error'),
    submit: $('#step-up-submit'),
    passkey: $('#step-up-passkey'),
    cancel: $('#step-up-cancel'),
  };
  const fields = factorFields(el.form, { onSwitch: () => show(el.error, '') });
  /** The question open: `{challenge, resolve, returnFocus}`. */
  let open = null;

  function close() {
    if (el.dialog.open) el.dialog.close(); // the 'close' event settles the question
  }

  el.dialog.addEventListener('close', () => {
    const question = open;
    open = null;
    fields.clear();
    show(el.error, '');
    question?.resolve();
    if (question?.returnFocus?.isConnected) question.returnFocus.focus();
  });

  el.form.addEventListener('submit', async (event) => {
    event.preventDefault(); // method=dialog would close it at once
    const question = open;
    if (!question) return;
    const { proof, problem } = fields.read();
    if (problem) {
      show(el.error, problem);
      fields.retype();
      return;
    }
    show(el.error, '');
    await whileBusy(el.submit, async () => {
      try {
        await question.challenge.stepUp(proof);
        if (open === question) close();
      } catch (err) {
        if (open !== question) return;
        if (err.code === 'invalid_credentials') show(el.error, fields.wrong());
        else if (err.status === 429) show(el.error, tooManyAttempts(err));
        else show(el.error, `Could not check that: ${err.message}`);
        fields.retype();
      }
    });
  });

  el.passkey.addEventListener('click', async () => {
    const question = open;
    if (!question) return;
    show(el.error, '');
    await whileBusy(el.passkey, async () => {
      try {
        await question.challenge.stepUp(await passkeyProof(await passkeyOptions()));
        if (open === question) close();
      } catch (err) {
        if (open !== question) return;
        if (err.code === 'invalid_credentials') show(el.error, 'That passkey was not accepted. Try another way.');
        else if (err.status === 429) show(el.error, tooManyAttempts(err));
        else if (err instanceof DOMException) show(el.error, ceremonyProblem(err) ?? '');
        else show(el.error, `Could not check that: ${err.message}`);
      }
    }, { label: 'Waiting for your passkey…' });
  });

  el.cancel.addEventListener('click', close);

  return {
    /** The AuthClient's onStepUp: resolves once the user stepped up or gave up. */
    async ask(challenge) {
      const has = await factors();
      const second = [...(has?.totp ? ['totp'] : []), ...((has?.recovery_codes_left ?? 0) > 0 ? ['recovery_code'] : [])];
      const passkey = (has?.passkeys?.length ?? 0) > 0 && passkeysSupported();
      const wantsMfa = challenge.acrValues.includes('mfa');
      if (wantsMfa && !second.length && !passkey) {
        needsSecondFactor(has);
        return;
      }
      if (open) close();
      const returnFocus = document.activeElement;
      const codes = wantsMfa ? second : ['password', ...second];
      el.reason.textContent = reasonFor(challenge, codes.length > 0);
      show(el.error, '');
      el.submit.hidden = !codes.length;
      el.passkey.hidden = !passkey;
      el.dialog.showModal();
      fields.offer(codes);
      if (!codes.length) el.passkey.focus();
      await new Promise((resolve) => {
        open = { challenge, resolve, returnFocus };
      });
    },

    /** Closes the dialog unanswered, e.g. when the session ends. */
    cancel: close,
  };
}
