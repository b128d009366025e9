/**
 * events-view.js — the admin's "Events" view: every user's security
 * events (`GET /auth/admin/events`), newest first, filtered by user and
 * by kind, a page at a time: "Show older" asks for the page before the
 * last one's cursor, so events arriving meanwhile never shift what is
 * shown. Shown only to admins, but the gateway decides: it re-reads the
 * caller's roles on every admin call.
 */
import { $, cell } from './dom.js';
import { createListLoader } from './list-loader.js';
import { KINDS, describeEvent } from './event-words.js';
import { describeUserAgent } from './user-agent.js';
import { timeElement } from './time.js';

/** Events per page. */
const PAGE = 25;

/**
 * @param {{api: ReturnType<import('./account-api.js').accountApi>, status: object,
 *          isLoggedIn: () => boolean}} deps
 */
export function createEventsView({ api, status, isLoggedIn }) {
  const el = {
    table: $('#events'),
    tbody: $('#events tbody'),
    count: $('#event-count'),
    user: $('#event-user'),
    kind: $('#event-kind'),
    older: $('#events-older'),
    reload: $('#reload-events'),
    empty: $('#events-empty'),
  };
  const loader = createListLoader(el.table, el.reload, el.older);
  /** user id → username, for events that name only the id. */
  let names = new Map();
  let next = null;
  let rows = 0;

  el.kind.append(...KINDS.map(([kind, label]) => new Option(label, kind)));

  function rowFor(event) {
    const tr = document.createElement('tr');
    tr.dataset.id = String(event.id);
    tr.dataset.kind = event.kind;
    const who = event.username ?? names.get(event.user_id) ?? event.user_id ?? '—';
    const browser = document.createElement('span');
    browser.textContent = event.user_agent ? describeUserAgent(event.user_agent) : '—';
    if (event.user_agent) browser.title = event.user_agent;
    tr.append(
      cell('at', timeElement(event.at)),
      cell('user', who),
      cell('what', describeEvent(event)),
      cell('address', event.client_addr ?? '—'),
      cell('browser', browser),
    );
    return tr;
  }

  /** Fills the user filter from the user list, keeping the choice. */
  async function loadUsers() {
    const users = await api.users();
    names = new Map(users.map((u) => [u.id, u.username]));
    const chosen = el.user.value;
    el.user.replaceChildren(new Option('Everyone', ''), ...users.map((u) => new Option(u.username, u.id)));
    el.user.value = names.has(chosen) ? chosen : '';
  }

  function filters(before) {
    return { user: el.user.value, kind: el.kind.value, before, limit: PAGE };
  }

  /**
   * Loads the first page for the filters chosen (and the user list, with
   * `users`), or with `older` the page after the last one shown.
   */
  function load({ older = false, users = false, announce = false } = {}) {
    const fetch = async () => {
      if (users) await loadUsers();
      return api.events(filters(older ? next : undefined));
    };
    return loader.run(fetch, (page) => {
      const added = page.events.map(rowFor);
      if (older) el.tbody.append(...added);
      else el.tbody.replaceChildren(...added);
      rows = (older ? rows : 0) + added.length;
      next = page.next;
      el.older.hidden = next === null;
      el.empty.hidden = rows > 0;
      el.count.textContent = `${rows} event${rows === 1 ? '' : 's'}${next === null ? '' : ' shown'}`;
      // a busy button loses focus, and the last page takes it away: keep the keyboard here
      if (older) (next === null ? el.table.closest('.table-wrap') : el.older).focus();
      if (announce) status.say(`Loaded ${rows} event${rows === 1 ? '' : 's'}.`);
    }, (err) => {
      if (isLoggedIn()) status.error(`Could not load the events: ${err.message}`);
    });
  }

  el.user.addEventListener('change', () => load());
  el.kind.addEventListener('change', () => load());
  el.older.addEventListener('click', () => load({ older: true }));
  el.reload.addEventListener('click', () => load({ users: true, announce: true }));

  return {
    reload: () => load({ users: true }),
    /** Forgets everything shown, so the next user sees none of it. */
    reset() {
      loader.forget();
      names = new Map();
      next = null;
      rows = 0;
      el.tbody.replaceChildren();
      el.count.textContent = '';
      el.user.replaceChildren(new Option('Everyone', ''));
      el.kind.value = '';
      el.older.hidden = true;
      el.empty.hidden = true;
    },
  };
}
