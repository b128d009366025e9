/**
 * confirm.js — two presses for a destructive action: the first arms the
 * button ("Confirm …") for a few seconds and says so in the status region,
 * the second runs the action. No window.confirm, so it works the same from
 * the keyboard, with a screen reader and in tests.
 */

const CONFIRM_MS = 5000;
const timers = new WeakMap();

function disarm(button) {
  clearTimeout(timers.get(button));
  timers.delete(button);
  button.classList.remove('confirming');
  if (button.dataset.label) button.textContent = button.dataset.label;
}

/**
 * Arms `button` on the first press and resolves false; on a second press
 * within the window resolves true (the caller then acts).
 * @param {HTMLButtonElement} button
 * @param {{confirmLabel: string, what: string, status: {say: (m: string) => void}}} options
 */
export function confirmed(button, { confirmLabel, what, status }) {
  if (button.classList.contains('confirming')) {
    disarm(button);
    return true;
  }
  button.dataset.label ??= button.textContent;
  button.classList.add('confirming');
  button.textContent = confirmLabel;
  timers.set(button, setTimeout(() => disarm(button), CONFIRM_MS));
  status.say(`Press “${confirmLabel}” within ${CONFIRM_MS / 1000} seconds to ${what}.`);
  return false;
}
