/**
 * oidc-view.js — signing in with an OpenID Provider (contract §10) on the
 * page: a "Sign in with NAME" link per provider under the login form (a
 * plain navigation to /auth/oidc/ID/start: the gateway and the provider
 * answer with redirects, and the browser comes back signed in), the
 * callback's `?auth_error=` said in plain words, and the providers the
 * user's account is linked to in the Security view.
 */
import { $, show } from './dom.js';

/** What a refused sign-in at a provider means, by the callback's code. */
const AUTH_ERRORS = {
  oidc_state: 'That sign-in could not be finished: it took too long, was already used, or began in another browser. Please try again.',
  oidc_provider: 'The identity provider refused the sign-in or could not be reached. Please try again later.',
  oidc_token: 'The identity provider\'s answer could not be verified, so you were not signed in. Please try again.',
  account_disabled: 'Your account is disabled. Ask an administrator for help.',
  no_account: 'There is no account here for that identity. Ask an administrator to link your account.',
};

/**
 * The sentence for the `?auth_error=` the page was opened with, if any;
 * the parameter is taken out of the address bar so a reload does not say
 * it again.
 */
export function takeAuthError() {
  const url = new URL(location.href);
  const code = url.searchParams.get('auth_error');
  if (code === null) return null;
  url.searchParams.delete('auth_error');
  history.replaceState(history.state, '', url.pathname + url.search + url.hash);
  return AUTH_ERRORS[code] ?? 'Signing in with the identity provider failed. Please try again.';
}

/** The providers' links under the login form; hidden when there are none. */
export async function showProviders(fetchImpl = fetch) {
  const box = $('#oidc-providers');
  const list = $('#oidc-provider-list');
  let providers = [];
  try {
    const res = await fetchImpl('/auth/oidc/providers', { headers: { Accept: 'application/json' } });
    if (res.ok) providers = (await res.json()).providers ?? [];
  } catch {
    providers = []; // the password form still works
  }
  list.replaceChildren(...providers.map((p) => {
    const link = document.createElement('a');
    link.className = 'button secondary oidc-provider';
    link.dataset.provider = p.id;
    link.textContent = `Sign in with ${p.name}`;
    link.addEventListener('click', () => {
      // come back to where the user was
      const here = location.pathname + location.search;
      link.href = `/auth/oidc/${encodeURIComponent(p.id)}/start?return_to=${encodeURIComponent(here)}`;
    });
    link.href = `/auth/oidc/${encodeURIComponent(p.id)}/start?return_to=/`;
    return link;
  }));
  box.hidden = providers.length === 0;
}

/** The Security view's list of the providers linked to the account. */
export function createLinkedProviders({ api }) {
  const box = $('#oidc-links');
  const list = $('#oidc-links-list');
  return {
    async reload() {
      let linked = [];
      try {
        linked = await api.linkedProviders();
      } catch {
        linked = [];
      }
      list.replaceChildren(...linked.map((p) => {
        const item = document.createElement('li');
        item.textContent = p.name ?? p.id;
        return item;
      }));
      box.hidden = linked.length === 0;
    },
    reset() {
      list.replaceChildren();
      show($('#oidc-links-note'), '');
      box.hidden = true;
    },
  };
}
