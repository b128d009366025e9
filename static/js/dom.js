/**
 * dom.js — the few DOM helpers every view uses. Text goes in with
 * textContent only, never parsed as HTML.
 */

/** The first element matching `selector`, or null. */
export function $(selector) {
  return document.querySelector(selector);
}

/** A small `<button type="button">` with a visible label and an accessible name. */
export function button(className, label, ariaLabel) {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = `button small-button ${className}`;
  b.textContent = label;
  b.setAttribute('aria-label', ariaLabel);
  return b;
}

/** Shows `message` in `node`, or hides it when there is none. */
export function show(node, message) {
  node.textContent = message ?? '';
  node.hidden = !message;
}

/**
 * Runs `task` with `button` disabled (showing `label` meanwhile, if given).
 * A disabled button may lose focus: it gets it back unless the task put
 * focus somewhere else.
 */
export async function whileBusy(button, task, { label } = {}) {
  const idle = button.textContent;
  button.disabled = true;
  if (label) button.textContent = label;
  try {
    return await task();
  } finally {
    button.disabled = false;
    if (label) button.textContent = idle;
    if (!document.activeElement || document.activeElement === document.body) button.focus();
  }
}
