/**
 * security-view.js — "Security": the passkeys (passkeys-view.js), whether
 * the authenticator app (TOTP) is on and how many recovery codes are left; setting it up (a QR code, the
 * key as text, then a code to confirm), removing it, and new recovery
 * codes. Recovery codes are shown once, with Copy and Download. The routes
 * that change a factor want a sign-in from the last 5 minutes: the auth
 * client's step-up dialog asks for it when the gateway says so.
 *
 * The QR code is the gateway's SVG as an <img> data: URL, so nothing of it
 * is parsed into this page; text goes in with textContent only.
 */
import { $, show, whileBusy } from './dom.js';
import { confirmed } from './confirm.js';
import { createPasskeysView } from './passkeys-view.js';

/** `text` (UTF-8) in base64, for a data: URL. */
function base64(text) {
  let binary = '';
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** A base32 key in groups of four, easier to read and type. */
function grouped(secret) {
  return secret.replace(/\s+/g, '').replace(/(.{4})(?=.)/g, '$1 ');
}

function plural(n, word) {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/**
 * @param {{api: ReturnType<import('./account-api.js').accountApi>, status: object,
 *          isLoggedIn: () => boolean, me: () => object|null, onChanged: () => void}} deps
 *   `onChanged` is called after a factor was added, removed or renewed here.
 */
export function createSecurityView({ api, status, isLoggedIn, me, onChanged }) {
  const el = {
    notice: $('#security-notice'),
    state: $('#mfa-state'),
    setup: $('#totp-setup'),
    remove: $('#totp-remove'),
    renew: $('#recovery-new'),
    enrol: $('#totp-enrol'),
    enrolTitle: $('#totp-enrol-title'),
    qr: $('#totp-qr'),
    secret: $('#totp-secret'),
    uri: $('#totp-uri'),
    confirmForm: $('#totp-confirm-form'),
    code: $('#totp-confirm-code'),
    codeError: $('#totp-confirm-error'),
    confirm: $('#totp-confirm'),
    cancel: $('#totp-cancel'),
    codes: $('#recovery-codes'),
    codesTitle: $('#recovery-title'),
    codeList: $('#recovery-list'),
    copy: $('#recovery-copy'),
    download: $('#recovery-download'),
    done: $('#recovery-done'),
  };
  /** The last `GET /auth/mfa`, or null. */
  let factors = null;
  let loading = null;
  let seq = 0;
  let loaded = 0;
  let shownCodes = [];
  const passkeys = createPasskeysView({
    api,
    status,
    onChanged: async () => {
      await load();
      onChanged();
    },
  });

  function render() {
    const f = factors;
    passkeys.render(f);
    el.setup.hidden = !f || f.totp || !f.totp_available || !el.enrol.hidden;
    const keys = f?.passkeys?.length ?? 0;
    el.remove.hidden = !f?.totp;
    // recovery codes stand in for any second factor, a passkey's too
    el.renew.hidden = !f?.totp && !keys;
    if (f?.totp || keys) show(el.notice, ''); // the reason to come here is met
    const left = f?.recovery_codes_left ?? 0;
    const codes = `${plural(left, 'recovery code')} left${left <= 3 ? ' — make new ones soon' : ''}.`;
    if (!f) {
      el.state.textContent = '';
    } else if (f.totp) {
      el.state.textContent = `On: signing in asks for a code from your authenticator app. ${codes}`;
    } else if (keys) {
      el.state.textContent = `Off. Your ${keys === 1 ? 'passkey is' : 'passkeys are'} your second factor: `
        + `after your password, signing in asks for one. ${codes}`;
    } else if (f.totp_available) {
      el.state.textContent = 'Off: your password alone signs you in.';
    } else {
      el.state.textContent = 'This gateway does not offer authenticator apps.';
    }
  }

  /**
   * Asks the gateway what the user has; concurrent calls share one request.
   * A failure is said in the status line unless `quiet`.
   */
  function load({ quiet = false } = {}) {
    const mine = ++seq;
    loading ??= api.factors().finally(() => {
      loading = null;
    });
    return loading.then(
      (answer) => {
        if (mine === seq) {
          factors = answer;
          render();
        }
        return answer;
      },
      (err) => {
        if (mine === seq && isLoggedIn() && !quiet) status.error(`Could not load your second factors: ${err.message}`);
        return null;
      },
    ).finally(() => {
      if (mine === seq) {
        loaded += 1;
        el.state.dataset.loaded = String(loaded);
      }
    });
  }

  // --- setting up ------------------------------------------------------------------

  function closeEnrol() {
    el.enrol.hidden = true;
    el.qr.removeAttribute('src');
    el.secret.textContent = '';
    el.uri.href = '#';
    el.confirmForm.reset();
    fieldError('');
    render();
  }

  function fieldError(message) {
    show(el.codeError, message);
    if (message) el.code.setAttribute('aria-invalid', 'true');
    else el.code.removeAttribute('aria-invalid');
  }

  el.setup.addEventListener('click', () => whileBusy(el.setup, async () => {
    try {
      const setup = await api.setUpTotp();
      el.qr.src = `data:image/svg+xml;base64,${base64(setup.qr_svg)}`;
      el.secret.textContent = grouped(setup.secret);
      el.uri.href = setup.otpauth_uri;
      el.enrol.hidden = false;
      render();
      el.enrolTitle.focus();
    } catch (err) {
      status.error(`Could not set up the authenticator app: ${err.message}`);
    }
  }));

  el.confirmForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const code = el.code.value.replace(/\s+/g, '');
    if (!/^\d{6}$/.test(code)) {
      fieldError('Enter the 6-digit code your authenticator app shows.');
      el.code.focus();
      return;
    }
    fieldError('');
    await whileBusy(el.confirm, async () => {
      try {
        const codes = await api.confirmTotp(code);
        closeEnrol();
        showCodes(codes);
        status.say('Your authenticator app is on. Your other sessions were signed out.');
        await load();
        onChanged();
      } catch (err) {
        if (err.code === 'invalid_input') {
          fieldError('That code is not right. Enter the code the app shows now for this new key.');
          el.code.select();
        } else {
          fieldError(`Could not turn it on: ${err.message}`);
        }
      }
    });
  });

  el.cancel.addEventListener('click', () => {
    closeEnrol();
    el.setup.focus();
  });

  // --- recovery codes ------------------------------------------------------------------

  function showCodes(codes) {
    shownCodes = codes;
    el.codeList.replaceChildren(...codes.map((code) => {
      const li = document.createElement('li');
      const text = document.createElement('code');
      text.textContent = code;
      li.append(text);
      return li;
    }));
    el.codes.hidden = false;
    el.codesTitle.focus();
  }

  function hideCodes() {
    shownCodes = [];
    el.codeList.replaceChildren();
    el.codes.hidden = true;
  }

  function codesText() {
    const who = me()?.username;
    return [
      `Recovery codes${who ? ` for ${who}` : ''} (${location.host})`,
      'Each code signs you in once in place of a code from your authenticator app.',
      '',
      ...shownCodes,
      '',
    ].join('\n');
  }

  el.copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(shownCodes.join('\n'));
      status.say('The recovery codes are copied. Paste them somewhere safe.');
    } catch {
      getSelection()?.selectAllChildren(el.codeList);
      status.error('Could not copy them: they are selected, copy them with Ctrl+C (⌘C on a Mac).');
    }
  });

  el.download.addEventListener('click', () => {
    const url = URL.createObjectURL(new Blob([codesText()], { type: 'text/plain;charset=utf-8' }));
    const link = document.createElement('a');
    link.href = url;
    link.download = 'recovery-codes.txt';
    link.hidden = true;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
    status.say('The recovery codes are downloaded as recovery-codes.txt.');
  });

  el.done.addEventListener('click', () => {
    hideCodes();
    status.say('The recovery codes are hidden; they will not be shown again.');
    (el.renew.hidden ? el.setup : el.renew).focus();
  });

  el.renew.addEventListener('click', async () => {
    const what = 'make ten new recovery codes; the old ones will stop working';
    if (!confirmed(el.renew, { confirmLabel: 'Confirm new recovery codes', what, status })) return;
    await whileBusy(el.renew, async () => {
      try {
        showCodes(await api.newRecoveryCodes());
        status.say('Here are ten new recovery codes; the old ones no longer work.');
        await load();
        onChanged();
      } catch (err) {
        status.error(`Could not make new recovery codes: ${err.message}`);
      }
    });
  });

  // --- removing --------------------------------------------------------------------

  el.remove.addEventListener('click', async () => {
    const what = 'remove the authenticator app and your recovery codes';
    if (!confirmed(el.remove, { confirmLabel: 'Confirm removal', what, status })) return;
    await whileBusy(el.remove, async () => {
      try {
        await api.removeTotp();
        hideCodes();
        const now = await load();
        status.say(now?.passkeys?.length
          ? 'The authenticator app is removed: your passkeys are still your second factor. '
            + 'Your other sessions were signed out.'
          : 'The authenticator app is removed: your password alone signs you in now. '
            + 'Your other sessions were signed out.');
        onChanged();
        el.setup.focus();
      } catch (err) {
        status.error(`Could not remove the authenticator app: ${err.message}`);
      }
    });
  });

  return {
    /** Asks the gateway again what the user has; resolves with `GET /auth/mfa`'s answer, or null. */
    reload: load,

    /** Says why the user was sent here, above everything else, and moves focus to it. */
    explain(sentence, { focus = true } = {}) {
      show(el.notice, sentence);
      if (focus) el.notice.focus();
    },

    /** Leaving the view: the key and the codes are not kept on show. */
    leave() {
      if (!el.enrol.hidden) closeEnrol();
      hideCodes();
    },

    /** Forgets everything shown, so the next user sees none of it. */
    reset() {
      seq += 1;
      factors = null;
      passkeys.reset();
      closeEnrol();
      hideCodes();
      show(el.notice, '');
    },
  };
}
