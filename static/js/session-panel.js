/**
 * session-panel.js — the "for learning and debugging" panel: who is logged in,
 * the decoded access token, a live countdown to its expiry and the last
 * silent refresh. It only displays; it never changes the session.
 */
import { decodeJwt } from './auth-client.js';
import { $ } from './dom.js';

const REFRESH_SOURCES = {
  restore: 'on page load, from the refresh cookie',
  refresh: 'silent refresh by this tab',
  adopted: 'done by another tab, adopted here',
};

const timeFormat = new Intl.DateTimeFormat(undefined, {
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
});

export function createSessionPanel() {
  const el = {
    user: $('#session-user'),
    countdown: $('#token-countdown'),
    expiresAt: $('#token-expires-at'),
    lastRefresh: $('#last-refresh'),
    lastRefreshSource: $('#last-refresh-source'),
    refreshCount: $('#refresh-count'),
    header: $('#token-header'),
    claims: $('#token-claims'),
  };
  let expiresAt = null;
  let shownToken = null;

  function showToken(token) {
    if (token === shownToken) return;
    shownToken = token;
    if (!token) {
      el.header.textContent = '';
      el.claims.textContent = '';
      return;
    }
    try {
      const { header, claims } = decodeJwt(token);
      el.header.textContent = JSON.stringify(header, null, 2);
      el.claims.textContent = JSON.stringify(claims, null, 2);
    } catch (err) {
      el.header.textContent = `(could not decode: ${err.message})`;
      el.claims.textContent = '';
    }
  }

  /** Redraws the countdown; called every second and on every state change. */
  function tick() {
    if (expiresAt === null) {
      el.countdown.textContent = '—';
      el.countdown.classList.remove('expired');
      el.expiresAt.textContent = '';
      return;
    }
    const seconds = Math.max(0, Math.ceil((expiresAt - Date.now()) / 1000));
    el.countdown.textContent = `${seconds} s`;
    el.countdown.classList.toggle('expired', seconds === 0);
    el.expiresAt.textContent = seconds === 0
      ? '(expired; renewed on the next request)'
      : `(at ${timeFormat.format(expiresAt)})`;
  }

  /** Takes the AuthClient's onChange state. */
  function update(state) {
    expiresAt = state.expiresAt;
    const user = state.user;
    el.user.textContent = user
      ? `${user.username} (id ${user.id}) — roles: ${user.roles.join(', ')}`
      : '—';
    showToken(state.accessToken);

    el.lastRefresh.dataset.count = String(state.refreshCount);
    el.refreshCount.textContent = String(state.refreshCount);
    if (state.lastRefresh) {
      el.lastRefresh.textContent = timeFormat.format(state.lastRefresh);
      if (REFRESH_SOURCES[state.reason]) {
        el.lastRefreshSource.textContent = `(${REFRESH_SOURCES[state.reason]})`;
      }
    } else {
      el.lastRefresh.textContent = '—';
      el.lastRefreshSource.textContent = '';
    }
    tick();
  }

  setInterval(tick, 1000);
  return { update };
}
