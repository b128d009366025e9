/**
 * factor-fields.js — the part of a form that asks for one proof that it is
 * you: the password, a code of the authenticator app (TOTP) or a recovery
 * code. One field shows at a time (`[data-factor]`), with "Use … instead"
 * buttons (`[data-use]`) for the others offered. The login's second step
 * and the step-up dialog both use it, so they read and word things alike.
 */

/** What the gateway's field is called for each factor, and what to say when it is wrong. */
const FACTORS = {
  password: {
    empty: 'Enter your password.',
    wrong: 'That is not your password.',
  },
  totp: {
    empty: 'Enter the 6-digit code from your authenticator app.',
    wrong: 'That code is not right. Enter the code your authenticator app shows now; '
      + 'if it keeps failing, check that the time on your phone is right.',
  },
  recovery_code: {
    empty: 'Enter one of your recovery codes.',
    wrong: 'That recovery code is not right, or it has been used already.',
  },
};

/** A typed TOTP code: 6 digits, spaces allowed ("123 456"). */
function totpCode(value) {
  const code = value.replace(/\s+/g, '');
  return /^\d{6}$/.test(code) ? code : null;
}

/** "Too many attempts — try again in N s", or without a number when none was sent. */
export function tooManyAttempts(err) {
  return Number.isFinite(err.retryAfter) && err.retryAfter > 0
    ? `Too many attempts — try again in ${err.retryAfter} s.`
    : 'Too many attempts — try again later.';
}

/**
 * @param {HTMLFormElement} form holding the `[data-factor]` fields and `[data-use]` buttons
 * @param {{onSwitch?: () => void}} [options] called after the user switches field
 */
export function factorFields(form, { onSwitch } = {}) {
  const fields = new Map([...form.querySelectorAll('[data-factor]')].map((f) => [f.dataset.factor, f]));
  const switches = [...form.querySelectorAll('[data-use]')];
  let offered = [...fields.keys()];
  let current = offered[0];

  const input = () => fields.get(current).querySelector('input');

  function use(factor, { focus = true } = {}) {
    current = factor;
    for (const [name, field] of fields) field.hidden = name !== factor;
    for (const b of switches) b.hidden = b.dataset.use === factor || !offered.includes(b.dataset.use);
    if (focus && factor) input().focus();
  }

  form.addEventListener('click', (event) => {
    const b = event.target.closest('[data-use]');
    if (!b) return;
    use(b.dataset.use);
    onSwitch?.();
  });

  return {
    /** The factor whose field is shown. */
    get current() {
      return current;
    },

    /**
     * Offers `factors` (names as in FACTORS), empties the fields and shows
     * the first; none shows no field (a passkey is then the only way).
     */
    offer(factors, { focus = true } = {}) {
      offered = factors.filter((f) => fields.has(f));
      this.clear();
      use(offered[0], { focus });
    },

    /** `{proof}` for the gateway (`{totp: '123456'}`…), or `{problem}`: a sentence to show. */
    read() {
      const value = input().value;
      const proof = current === 'totp' ? totpCode(value) : current === 'password' ? value : value.trim();
      return proof ? { proof: { [current]: proof } } : { problem: FACTORS[current].empty };
    },

    /** What to say when the gateway refused the proof typed. */
    wrong() {
      return FACTORS[current].wrong;
    },

    /** Selects the field's text, for typing it again. */
    retype() {
      input().focus();
      input().select();
    },

    /** Empties every field. */
    clear() {
      for (const field of fields.values()) field.querySelector('input').value = '';
    },
  };
}
