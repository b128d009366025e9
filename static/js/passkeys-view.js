/**
 * passkeys-view.js — the Security view's passkeys: each one's name, when it
 * was added and last used (from `GET /auth/mfa`), adding one (named, made
 * by the browser's passkey manager), renaming and deleting one. Adding and
 * deleting want a sign-in from the last 5 minutes: the step-up dialog asks
 * for it when the gateway says so. Hidden when the gateway offers no
 * passkeys or the browser cannot use them.
 */
import { $, button, fact, show, whileBusy } from './dom.js';
import { confirmed } from './confirm.js';
import { timeElement } from './time.js';
import { ceremonyProblem, createPasskey, passkeysSupported } from './webauthn.js';

/** A name for a passkey the user did not name: the browser and the day. */
function defaultName() {
  const brand = navigator.userAgentData?.brands?.find((b) => !/not.a.brand|chromium/i.test(b.brand))?.brand;
  return `${brand ?? 'Passkey'} ${new Date().toLocaleDateString(undefined, { dateStyle: 'medium' })}`;
}

/**
 * @param {{api: ReturnType<import('./account-api.js').accountApi>, status: object,
 *          onChanged: () => Promise<unknown>}} deps `onChanged` reloads what the
 *   user has after a passkey was added, renamed or deleted
 */
export function createPasskeysView({ api, status, onChanged }) {
  const el = {
    section: $('#passkeys'),
    list: $('#passkey-list'),
    empty: $('#passkeys-empty'),
    form: $('#passkey-add-form'),
    name: $('#passkey-name'),
    add: $('#passkey-add'),
    error: $('#passkey-error'),
  };
  let renders = 0;

  /** One passkey's row: its name (or a field to rename it), its dates, its buttons. */
  function row(passkey) {
    const li = document.createElement('li');
    li.className = 'passkey';
    li.dataset.id = passkey.id;
    const name = document.createElement('strong');
    name.className = 'passkey-name';
    name.textContent = passkey.name;
    const facts = document.createElement('span');
    facts.className = 'facts-line';
    facts.append(fact('added', timeElement(passkey.created_at)),
      fact('last used', passkey.last_used_at ? timeElement(passkey.last_used_at) : document.createTextNode('never')));
    const rename = button('rename', 'Rename', `Rename the passkey ${passkey.name}`);
    const remove = button('delete danger', 'Delete', `Delete the passkey ${passkey.name}`);
    rename.addEventListener('click', () => startRename(li, passkey));
    remove.addEventListener('click', () => removeOne(remove, passkey));
    li.append(name, facts, rename, remove);
    return li;
  }

  /** Swaps the name for a field with Save and Cancel. */
  function startRename(li, passkey) {
    const form = document.createElement('form');
    form.className = 'rename-form';
    const input = document.createElement('input');
    input.type = 'text';
    input.maxLength = 64;
    input.value = passkey.name;
    input.setAttribute('aria-label', `New name for the passkey ${passkey.name}`);
    const save = document.createElement('button');
    save.type = 'submit';
    save.className = 'button small-button save';
    save.textContent = 'Save';
    const cancel = button('cancel', 'Cancel', 'Keep the name');
    cancel.addEventListener('click', () => li.replaceWith(row(passkey)));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const name = input.value.trim();
      if (!name) {
        input.focus();
        return;
      }
      await whileBusy(save, async () => {
        try {
          await api.renamePasskey(passkey.id, name);
          status.say(`The passkey is now called ${name}.`);
          await onChanged();
        } catch (err) {
          status.error(`Could not rename the passkey: ${err.message}`);
        }
      });
    });
    form.append(input, save, cancel);
    li.querySelector('.passkey-name').replaceWith(form);
    input.focus();
    input.select();
  }

  async function removeOne(remove, passkey) {
    const what = `delete the passkey ${passkey.name}; it will no longer sign you in`;
    if (!confirmed(remove, { confirmLabel: 'Confirm deletion', what, status })) return;
    await whileBusy(remove, async () => {
      try {
        await api.removePasskey(passkey.id);
        status.say(`The passkey ${passkey.name} is deleted. Your other sessions were signed out.`);
        await onChanged();
        el.add.focus();
      } catch (err) {
        status.error(`Could not delete the passkey: ${err.message}`);
      }
    });
  }

  el.form.addEventListener('submit', async (event) => {
    event.preventDefault();
    show(el.error, '');
    const name = el.name.value.trim() || defaultName();
    await whileBusy(el.add, async () => {
      let options;
      try {
        options = await api.passkeyOptions();
      } catch (err) {
        show(el.error, `Could not start adding a passkey: ${err.message}`);
        return;
      }
      let credential;
      try {
        credential = await createPasskey(options.publicKey);
      } catch (err) {
        show(el.error, ceremonyProblem(err) ?? '');
        return;
      }
      try {
        await api.addPasskey(options.ceremony, credential, name);
        el.name.value = '';
        status.say(`The passkey ${name} is added: you can sign in with it now. Your other sessions were signed out.`);
        await onChanged();
      } catch (err) {
        show(el.error, `The passkey was not added: ${err.message}`);
      }
    }, { label: 'Waiting for your passkey…' });
  });

  return {
    /** Shows the passkeys of `GET /auth/mfa`'s answer `factors` (null: nothing). */
    render(factors) {
      el.section.hidden = !factors?.passkeys_available || !passkeysSupported();
      const passkeys = factors?.passkeys ?? [];
      el.list.replaceChildren(...passkeys.map(row));
      el.empty.hidden = passkeys.length > 0 || !factors;
      renders += 1;
      el.list.dataset.loaded = String(renders);
    },

    /** Forgets what was typed and shown. */
    reset() {
      el.name.value = '';
      show(el.error, '');
      el.list.replaceChildren();
    },
  };
}
