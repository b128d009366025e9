/**
 * users-view.js — the admin's "Users" view: roles (editable, saved per
 * row), active or disabled, live sessions, second factor, created; disable
 * or enable, end every session of a user, and reset a lost second factor.
 * Destructive actions ask for a second press.
 * Shown only to admins, but the gateway decides: it re-reads the caller's
 * roles on every admin call.
 */
import { $, button, cell } from './dom.js';
import { createListLoader } from './list-loader.js';
import { confirmed } from './confirm.js';
import { timeElement } from './time.js';

const EDITABLE_ROLES = ['editor', 'admin'];

/**
 * @param {{api: ReturnType<import('./account-api.js').accountApi>, status: object,
 *          isLoggedIn: () => boolean, me: () => object|null,
 *          onOwnRolesChanged: () => Promise<unknown>}} deps
 */
export function createUsersView({ api, status, isLoggedIn, me, onOwnRolesChanged }) {
  const el = {
    table: $('#users'),
    tbody: $('#users tbody'),
    count: $('#user-count'),
    reload: $('#reload-users'),
  };
  const loader = createListLoader(el.table, el.reload);
  let users = new Map();

  function badge(text) {
    const span = document.createElement('span');
    span.className = 'badge';
    span.textContent = text;
    return span;
  }

  function rolesCell(user, isMe) {
    const wrap = document.createElement('div');
    wrap.className = 'roles-edit';
    const fixed = document.createElement('span');
    fixed.className = 'muted';
    fixed.textContent = 'user';
    wrap.append(fixed);
    for (const role of EDITABLE_ROLES) {
      const label = document.createElement('label');
      label.className = 'role-choice';
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.className = 'role';
      box.dataset.role = role;
      box.checked = user.roles.includes(role);
      box.setAttribute('aria-label', `${role} role for ${user.username}`);
      // the gateway refuses it anyway: an admin cannot drop their own admin role
      if (isMe && role === 'admin') box.disabled = true;
      label.append(box, ` ${role}`);
      wrap.append(label);
    }
    const save = button('secondary save-roles', 'Save', `Save roles of ${user.username}`);
    save.disabled = true;
    wrap.append(save);
    return cell('roles', wrap);
  }

  function rowFor(user) {
    const isMe = user.id === me()?.id;
    const tr = document.createElement('tr');
    tr.dataset.id = user.id;
    tr.dataset.disabled = String(user.disabled);
    const name = document.createElement('span');
    name.textContent = user.username;
    const state = document.createElement('span');
    state.className = user.disabled ? 'state disabled' : 'state';
    state.textContent = user.disabled ? 'Disabled' : 'Active';
    const actions = [];
    if (user.disabled) {
      actions.push(button('secondary enable', 'Enable', `Enable ${user.username}`));
    } else if (!isMe) {
      actions.push(button('danger disable', 'Disable', `Disable ${user.username}`));
    }
    if (user.sessions > 0) {
      actions.push(button('danger end-sessions', 'End sessions', `End every session of ${user.username}`));
    }
    // your own is in Security; resetting it here would sign you out everywhere
    if (user.mfa && !isMe) {
      actions.push(button('danger reset-mfa', 'Reset second factor', `Reset the second factor of ${user.username}`));
    }
    tr.append(
      cell('username', name, ...(isMe ? [' ', badge('you')] : [])),
      rolesCell(user, isMe),
      cell('state-cell', state),
      cell('sessions', String(user.sessions)),
      cell('mfa', user.mfa ? 'On' : 'Off'),
      cell('created', timeElement(user.created_at, { absolute: true })),
      cell('actions', ...actions),
    );
    return tr;
  }

  function reload({ announce = false } = {}) {
    return loader.run(() => api.users(), (list) => {
      users = new Map(list.map((u) => [u.id, u]));
      el.tbody.replaceChildren(...list.map(rowFor));
      el.count.textContent = `${list.length} user${list.length === 1 ? '' : 's'}`;
      if (announce) status.say(`Loaded ${list.length} user${list.length === 1 ? '' : 's'}.`);
    }, (err) => {
      if (isLoggedIn()) status.error(`Could not load the users: ${err.message}`);
    });
  }

  function chosenRoles(tr) {
    return ['user', ...[...tr.querySelectorAll('input.role:checked')].map((b) => b.dataset.role)];
  }

  /** Runs an action for a row, says what happened, and redraws the list. */
  async function act(target, run, done) {
    target.disabled = true;
    try {
      await run();
      status.say(done);
    } catch (err) {
      status.error(err.message);
    }
    await reload();
  }

  el.tbody.addEventListener('change', (event) => {
    const box = event.target.closest('input.role');
    if (!box) return;
    const tr = box.closest('tr');
    const user = users.get(tr.dataset.id);
    const now = chosenRoles(tr).sort().join(',');
    const before = [...user.roles].sort().join(',');
    tr.querySelector('.save-roles').disabled = now === before;
  });

  el.tbody.addEventListener('click', async (event) => {
    const target = event.target.closest('button');
    const tr = target?.closest('tr');
    if (!target || !tr) return;
    const user = users.get(tr.dataset.id);
    if (!user) return;
    const name = user.username;
    if (target.classList.contains('save-roles')) {
      const roles = chosenRoles(tr);
      const isMe = user.id === me()?.id;
      await act(target, () => api.setRoles(user.id, roles), `${name} now has the roles ${roles.join(', ')}.`);
      if (isMe) await onOwnRolesChanged();
    } else if (target.classList.contains('enable')) {
      await act(target, () => api.enable(user.id), `${name} is enabled and may sign in again.`);
    } else if (target.classList.contains('disable')) {
      if (!confirmed(target, { confirmLabel: 'Confirm disable', what: `disable ${name} and sign them out everywhere`, status })) return;
      await act(target, () => api.disable(user.id), `${name} is disabled and signed out everywhere.`);
    } else if (target.classList.contains('end-sessions')) {
      if (!confirmed(target, { confirmLabel: 'Confirm end sessions', what: `sign ${name} out everywhere`, status })) return;
      await act(target, () => api.endSessions(user.id), `${name} is signed out everywhere.`);
    } else if (target.classList.contains('reset-mfa')) {
      const what = `remove every second factor of ${name} and sign them out everywhere`;
      if (!confirmed(target, { confirmLabel: 'Confirm reset', what, status })) return;
      await act(target, () => api.resetFactors(user.id),
        `${name} has no second factor now and is signed out everywhere; they sign in with their password and may set one up again.`);
    }
  });

  el.reload.addEventListener('click', () => reload({ announce: true }));

  return {
    reload,
    /** Forgets everything shown, so the next user sees none of it. */
    reset() {
      loader.forget();
      users = new Map();
      el.tbody.replaceChildren();
      el.count.textContent = '';
    },
  };
}
