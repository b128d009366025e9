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

/** A `<td>` of class `className` holding `children` (text or nodes). */
export function cell(className, ...children) {
  const td = document.createElement('td');
  td.className = className;
  td.append(...children);
  return td;
}

/** `label value` on one line, the label muted: a fact of a list item. */
export function fact(label, value) {
  const wrap = document.createElement('span');
  wrap.className = 'fact';
  const name = document.createElement('span');
  name.className = 'muted';
  name.textContent = `${label} `;
  wrap.append(name, value);
  return wrap;
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
