/**
 * sessions-view.js — "Where you are signed in": the caller's live sessions
 * (browser and OS, address, last used, signed in), this one marked, a
 * button to sign out each other one, and "Sign out everywhere".
 * Data is written with textContent only, never parsed as HTML.
 */
import { $, fact } from './dom.js';
import { confirmed } from './confirm.js';
import { createListLoader } from './list-loader.js';
import { describeUserAgent } from './user-agent.js';
import { timeElement } from './time.js';

/**
 * @param {{api: ReturnType<import('./account-api.js').accountApi>, status: object,
 *          isLoggedIn: () => boolean, logoutEverywhere: () => Promise<void>}} deps
 */
export function createSessionsView({ api, status, isLoggedIn, logoutEverywhere }) {
  const el = {
    list: $('#session-list'),
    count: $('#session-count'),
    reload: $('#reload-sessions'),
    everywhere: $('#logout-everywhere'),
  };
  const loader = createListLoader(el.list, el.reload);

  function itemFor(session) {
    const li = document.createElement('li');
    li.className = 'session-item';
    li.dataset.id = session.id;
    li.dataset.current = String(session.current);

    const device = document.createElement('p');
    device.className = 'device';
    const name = document.createElement('strong');
    name.textContent = describeUserAgent(session.user_agent);
    if (session.user_agent) name.title = session.user_agent;
    device.append(name);
    if (session.current) {
      const badge = document.createElement('span');
      badge.className = 'badge';
      badge.textContent = 'This device';
      device.append(' ', badge);
    }

    const address = document.createElement('span');
    address.className = 'address';
    address.textContent = session.client_addr ?? 'unknown';
    const facts = document.createElement('p');
    facts.className = 'facts-line small';
    facts.append(
      fact('Address', address),
      fact('Last used', timeElement(session.last_used_at)),
      fact('Signed in', timeElement(session.created_at)),
    );
    li.append(device, facts);

    if (!session.current) {
      const end = document.createElement('button');
      end.type = 'button';
      end.className = 'button danger small-button end-session';
      end.textContent = 'Sign out';
      end.setAttribute('aria-label', `Sign out ${name.textContent} at ${address.textContent}`);
      li.append(end);
    }
    return li;
  }

  function reload({ announce = false } = {}) {
    return loader.run(() => api.sessions(), (sessions) => {
      el.list.replaceChildren(...sessions.map(itemFor));
      const n = sessions.length;
      el.count.textContent = `${n} session${n === 1 ? '' : 's'}`;
      if (announce) status.say(`You are signed in on ${n} session${n === 1 ? '' : 's'}.`);
    }, (err) => {
      if (isLoggedIn()) status.error(`Could not load your sessions: ${err.message}`);
    });
  }

  async function endSession(button, id) {
    const item = button.closest('li');
    const name = item.querySelector('.device strong').textContent;
    if (!confirmed(button, { confirmLabel: 'Confirm sign out', what: `sign out ${name}`, status })) return;
    button.disabled = true;
    try {
      await api.endSession(id);
      status.say(`Signed out ${name}. That device must sign in again.`);
    } catch (err) {
      // 404: it had ended already; the reload shows the truth either way
      if (err.status !== 404) status.error(`Could not sign out ${name}: ${err.message}`);
    }
    await reload();
    el.reload.focus();
  }

  el.reload.addEventListener('click', () => reload({ announce: true }));
  el.list.addEventListener('click', (event) => {
    const button = event.target.closest('button.end-session');
    if (button) endSession(button, button.closest('li').dataset.id);
  });
  el.everywhere.addEventListener('click', async () => {
    const what = 'sign out of every session, this one included';
    if (!confirmed(el.everywhere, { confirmLabel: 'Confirm: sign out everywhere', what, status })) return;
    el.everywhere.disabled = true;
    try {
      await logoutEverywhere(); // the login view explains
    } catch (err) {
      status.error(`Could not sign out everywhere: ${err.message}`);
    } finally {
      el.everywhere.disabled = false;
    }
  });

  return {
    reload,
    /** Forgets everything shown, so the next user sees none of it. */
    reset() {
      loader.forget();
      el.list.replaceChildren();
      el.count.textContent = '';
    },
  };
}
