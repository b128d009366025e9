/**
 * password-view.js — "Change your password": current and new password,
 * errors shown beside the field they are about, and on success a note that
 * the other sessions were signed out.
 */
import { $, show } from './dom.js';

const MIN = 8;
const MAX = 256;

/** @param {{api: ReturnType<import('./account-api.js').accountApi>, status: object}} deps */
export function createPasswordView({ api, status }) {
  const el = {
    form: $('#password-form'),
    current: $('#current-password'),
    next: $('#new-password'),
    currentError: $('#current-password-error'),
    nextError: $('#new-password-error'),
    error: $('#password-error'),
    success: $('#password-success'),
    submit: $('#password-submit'),
  };

  function fieldError(input, node, message) {
    show(node, message);
    if (message) input.setAttribute('aria-invalid', 'true');
    else input.removeAttribute('aria-invalid');
  }

  function clearMessages() {
    fieldError(el.current, el.currentError, '');
    fieldError(el.next, el.nextError, '');
    show(el.error, '');
    show(el.success, '');
  }

  el.form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearMessages();
    const current = el.current.value;
    const next = el.next.value;
    const length = [...next].length;
    if (!current) {
      fieldError(el.current, el.currentError, 'Enter your current password.');
      el.current.focus();
      return;
    }
    if (length < MIN || length > MAX) {
      fieldError(el.next, el.nextError, `A password is ${MIN} to ${MAX} characters; this one has ${length}.`);
      el.next.focus();
      return;
    }
    el.submit.disabled = true;
    el.submit.textContent = 'Changing…';
    try {
      await api.changePassword(current, next);
      el.form.reset();
      show(el.success, 'Your password has been changed. Your other sessions were signed out; this one stays signed in.');
      status.say('Password changed; your other sessions were signed out.');
    } catch (err) {
      if (err.code === 'invalid_credentials') {
        fieldError(el.current, el.currentError, 'That is not your current password.');
        el.current.select();
      } else if (err.code === 'invalid_input') {
        fieldError(el.next, el.nextError, err.message);
        el.next.focus();
      } else if (err.status === 429) {
        const wait = err.retryAfter ? ` Try again in ${err.retryAfter} s.` : ' Try again later.';
        show(el.error, `Too many attempts.${wait}`);
      } else {
        show(el.error, `Could not change the password: ${err.message}`);
      }
    } finally {
      el.submit.disabled = false;
      el.submit.textContent = 'Change password';
    }
  });

  return {
    /** Clears the fields and messages, so the next user sees none of it. */
    reset() {
      el.form.reset();
      clearMessages();
    },
  };
}
