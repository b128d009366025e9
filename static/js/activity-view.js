/**
 * activity-view.js — "Activity" in the Security view: the caller's own
 * security events (`GET /auth/activity`, the last 100, newest first), each
 * with when, what happened in plain words, from which address and which
 * browser. A page of them at first, "Show older" for the next. Data is
 * written with textContent only, never parsed as HTML.
 */
import { $, fact, show } from './dom.js';
import { createListLoader } from './list-loader.js';
import { describeEvent } from './event-words.js';
import { describeUserAgent } from './user-agent.js';
import { timeElement } from './time.js';

/** How many events show at first, and how many more each "Show older" adds. */
const PAGE = 20;

/** One event: what, then when, from where and with which browser. */
export function activityItem(event) {
  const li = document.createElement('li');
  li.className = 'activity-item';
  li.dataset.id = String(event.id);
  li.dataset.kind = event.kind;
  const what = document.createElement('p');
  what.className = 'what';
  what.textContent = describeEvent(event);
  const address = document.createElement('span');
  address.className = 'address';
  address.textContent = event.client_addr ?? 'unknown';
  const browser = document.createElement('span');
  browser.className = 'browser';
  browser.textContent = describeUserAgent(event.user_agent);
  if (event.user_agent) browser.title = event.user_agent;
  const facts = document.createElement('p');
  facts.className = 'facts-line small';
  facts.append(timeElement(event.at), fact('from', address), fact('with', browser));
  li.append(what, facts);
  return li;
}

/**
 * @param {{api: ReturnType<import('./account-api.js').accountApi>, status: object,
 *          isLoggedIn: () => boolean}} deps
 */
export function createActivityView({ api, status, isLoggedIn }) {
  const el = {
    list: $('#activity-list'),
    empty: $('#activity-empty'),
    older: $('#activity-older'),
    reload: $('#activity-reload'),
  };
  const loader = createListLoader(el.list, el.reload);
  let events = [];
  let shown = 0;
  let closed = false; // refused until the user signs in with a second factor

  /** Adds the next `PAGE` events to the list. */
  function showMore() {
    const next = events.slice(shown, shown + PAGE);
    el.list.append(...next.map(activityItem));
    shown += next.length;
    el.older.hidden = shown >= events.length;
    show(el.empty, events.length > 0 ? '' : 'Nothing has happened yet.');
  }

  function reload({ announce = false } = {}) {
    return loader.run(() => api.activity(), (answer) => {
      closed = false;
      events = answer;
      shown = 0;
      el.list.replaceChildren();
      showMore();
      if (announce) status.say(`Your activity: ${events.length} event${events.length === 1 ? '' : 's'}.`);
    }, (err) => {
      if (!isLoggedIn()) return;
      if (err.code === 'insufficient_user_authentication') {
        // a role that must use a second factor sees nothing else before it
        closed = true;
        show(el.empty, 'Your activity shows here once you sign in with a second factor.');
      } else {
        status.error(`Could not load your activity: ${err.message}`);
      }
    });
  }

  el.older.addEventListener('click', () => {
    const first = shown;
    showMore();
    // keep the keyboard where the reading goes on
    el.list.children[first]?.setAttribute('tabindex', '-1');
    el.list.children[first]?.focus();
  });
  el.reload.addEventListener('click', () => reload({ announce: true }));

  return {
    reload,
    /** Loads again after a change, unless loading would only ask for a second factor. */
    changed() {
      if (!closed) reload();
    },
    /** Forgets everything shown, so the next user sees none of it. */
    reset() {
      loader.forget();
      closed = false;
      events = [];
      shown = 0;
      el.list.replaceChildren();
      el.older.hidden = true;
      show(el.empty, '');
    },
  };
}
