/**
 * app.js — wires the page together: login view, the employees view with its
 * session panel, the sessions, password, security (with the activity list)
 * and (for admins) users and events views, the step-up dialog, and a tiny
 * client-side router (/, /employees/new, /employees/{id}, /sessions,
 * /password, /security, /admin/users, /admin/events).
 *
 * All session logic lives in auth-client.js; this file only reacts to its
 * onChange events. document.body.dataset.state is "loading", "logged-in" or
 * "logged-out" so that browser tests can wait on it.
 */
import { AuthClient } from './auth-client.js';
import { $ } from './dom.js';
import { employeeApi } from './api.js';
import { createStatus } from './status.js';
import { createSessionPanel } from './session-panel.js';
import { createEmployeesView } from './employees-view.js';
import { loadPermissions } from './permissions.js';
import { accountApi } from './account-api.js';
import { createSessionsView } from './sessions-view.js';
import { createPasswordView } from './password-view.js';
import { createUsersView } from './users-view.js';
import { createEventsView } from './events-view.js';
import { createActivityView } from './activity-view.js';
import { endSentence } from './end-reasons.js';
import { createSecurityView } from './security-view.js';
import { createStepUpDialog } from './step-up-dialog.js';
import { createLoginView } from './login-view.js';
import { createLinkedProviders, showProviders, takeAuthError } from './oidc-view.js';

const el = {
  loading: $('#loading-view'),
  loginView: $('#login-view'),
  appView: $('#app-view'),
  account: $('#account'),
  whoami: $('#whoami'),
  roles: $('#roles'),
  logout: $('#logout'),
  refreshNow: $('#refresh-now'),
  navUsers: $('#nav-users'),
  navEvents: $('#nav-events'),
  nav: $('.app-nav'),
  views: {
    employees: $('#employees-view'),
    sessions: $('#sessions-view'),
    password: $('#password-view'),
    security: $('#security-view'),
    users: $('#users-view'),
    events: $('#events-view'),
  },
};

/** Why a user is sent to the Security view: their role, or a part of the app that asks for it. */
const ENROL_MESSAGES = {
  required: 'Your account must use a second factor. Set up an authenticator app below; '
    + 'until then the rest of the app is closed to you.',
  asked: 'That part of the app needs a second factor. Set up an authenticator app below, then try again.',
};

/**
 * What the login screen says after a session ended, by AuthClient reason,
 * when the gateway did not say why (end-reasons.js words it when it did).
 */
const END_MESSAGES = {
  session_expired: 'Your session expired, please sign in again.',
  refresh_token_reused:
    'This session was ended because its refresh token was used twice — possibly stolen. Please sign in again.',
  session_ended:
    'You were signed out: this session was ended from another device, by a password change, or by an administrator. Please sign in again.',
  logout: 'You have signed out.',
  logout_elsewhere: 'You signed out in another tab.',
  logout_everywhere: 'You have signed out on every device.',
};

const auth = new AuthClient({ onStepUp: (challenge) => stepUpDialog.ask(challenge) });
const status = createStatus($('#status'));
const panel = createSessionPanel();
const employees = createEmployeesView({
  api: employeeApi(auth),
  status,
  isLoggedIn: () => auth.user !== null,
  navigate,
});

// The live feed of employee changes, through the gateway; the helper waits
// while nobody is logged in and reconnects after a refresh.
auth.openSocket('/api/employees/feed', {
  onMessage: (event) => {
    try {
      employees.applyChange(JSON.parse(event.data));
    } catch {
      // not JSON: not a change
    }
  },
  onOpen: () => employees.setLive(true),
  onClose: () => employees.setLive(false),
});

const account = accountApi(auth);
const sessions = createSessionsView({
  api: account,
  status,
  isLoggedIn: () => auth.user !== null,
  logoutEverywhere: () => auth.logoutEverywhere(),
});
const password = createPasswordView({ api: account, status });
const activity = createActivityView({ api: account, status, isLoggedIn: () => auth.user !== null });
const events = createEventsView({ api: account, status, isLoggedIn: () => auth.user !== null });
const security = createSecurityView({
  api: account,
  status,
  isLoggedIn: () => auth.user !== null,
  me: () => auth.user,
  onChanged: () => activity.changed(), // the change is the newest activity
});
const linked = createLinkedProviders({ api: account });
const stepUpDialog = createStepUpDialog({
  factors: () => security.reload({ quiet: true }),
  passkeyOptions: () => account.stepUpPasskeyOptions(),
  needsSecondFactor: (factors) => {
    listDue = true; // what was refused may be the list: load it again on the way back
    sendToEnrol(ENROL_MESSAGES[factors?.required ? 'required' : 'asked']);
  },
});
const login = createLoginView({
  auth,
  status,
  onSignedIn: () => {
    if (document.body.dataset.view === 'employees') $('#search').focus();
  },
});
const users = createUsersView({
  api: account,
  status,
  isLoggedIn: () => auth.user !== null,
  me: () => auth.user,
  // the new roles reach this tab's token at its next renewal: renew now
  onOwnRolesChanged: () => auth.refresh().catch(() => {}),
});

let currentUserId = null; // null while logged out
let authError = takeAuthError(); // why a sign-in at an identity provider failed, once
showProviders();
let listDue = false; // the employee list is still to load: it waited for a second factor

// --- routing -----------------------------------------------------------------

function parseRoute(pathname) {
  if (pathname === '/sessions') return { name: 'sessions' };
  if (pathname === '/password') return { name: 'password' };
  if (pathname === '/security') return { name: 'security' };
  if (pathname === '/admin/users') return { name: 'users' };
  if (pathname === '/admin/events') return { name: 'events' };
  if (pathname === '/employees/new') return { name: 'new' };
  const match = pathname.match(/^\/employees\/([^/]+)\/?$/);
  if (match) return { name: 'edit', id: decodeURIComponent(match[1]) };
  return { name: 'list' };
}

function navigate(path, { replace = false } = {}) {
  if (location.pathname === path) return;
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
}

const isAdmin = () => Boolean(auth.user?.roles.includes('admin'));
const VIEWS = ['sessions', 'password', 'security', 'users', 'events'];
/** The views only admins are offered (the gateway refuses the others anyway). */
const ADMIN_VIEWS = ['users', 'events'];

/**
 * Shows the view a route names; the employee routes go to the employees view,
 * which applies them itself unless `employeesRoute` is false (its list is
 * not loaded yet).
 */
function showRoute(route, { employeesRoute = true } = {}) {
  let view = VIEWS.includes(route.name) ? route.name : 'employees';
  if (ADMIN_VIEWS.includes(view) && !isAdmin()) {
    view = 'employees';
    navigate('/', { replace: true });
  }
  for (const [name, node] of Object.entries(el.views)) node.hidden = name !== view;
  for (const link of el.nav.querySelectorAll('a')) {
    if (link.dataset.view === view) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  document.body.dataset.view = view;
  if (view !== 'security') security.leave();
  if (view === 'employees' && listDue) loadEmployees();
  else if (view === 'employees' && employeesRoute) employees.showRoute(route);
  else if (view === 'sessions') sessions.reload();
  else if (view === 'security') {
    security.reload();
    linked.reload();
    activity.reload();
  } else if (view === 'users') users.reload();
  else if (view === 'events') events.reload();
}

/** Opens the Security view with `sentence` saying why (focus moves to it unless already there). */
function sendToEnrol(sentence) {
  if (currentUserId === null) return;
  if (document.body.dataset.view === 'security') {
    security.explain(sentence, { focus: false });
    return;
  }
  status.clear();
  navigate('/security');
  showRoute({ name: 'security' });
  security.explain(sentence);
}

window.addEventListener('popstate', () => {
  if (currentUserId !== null) showRoute(parseRoute(location.pathname));
});

el.nav.addEventListener('click', (event) => {
  const link = event.target.closest('a');
  if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
  event.preventDefault();
  status.clear(); // news from the view being left
  navigate(link.getAttribute('href'));
  showRoute(parseRoute(location.pathname));
});

// --- views -------------------------------------------------------------------

function showLogin(message) {
  document.body.dataset.state = 'logged-out';
  message = authError ?? message; // a refused provider sign-in says why once
  authError = null;
  el.loading.hidden = true;
  el.appView.hidden = true;
  el.account.hidden = true;
  el.loginView.hidden = false;
  login.show(message);
}

function showApp(user) {
  document.body.dataset.state = 'logged-in';
  el.loading.hidden = true;
  el.loginView.hidden = true;
  el.appView.hidden = false;
  el.account.hidden = false;
  el.whoami.textContent = user.username;
  el.roles.textContent = user.roles.join(', ');
  el.navUsers.hidden = !user.roles.includes('admin');
  el.navEvents.hidden = !user.roles.includes('admin');
}

/** Which controls the gateway's policy allows this user, asked once per change of roles. */
let permissionsFor = null;
async function updatePermissions(user) {
  const key = `${user.id}:${user.roles.join(',')}`;
  if (permissionsFor === key) return;
  permissionsFor = key;
  const can = await loadPermissions(auth);
  if (permissionsFor !== key) return; // the user changed meanwhile
  if (!can) permissionsFor = null; // no answer: ask again at the next change
  employees.setPermissions({
    canEdit: Boolean(can?.('POST', '/employees') && can('PUT', '/employees/any')),
    canDelete: Boolean(can?.('DELETE', '/employees/any')),
  });
}

/**
 * After a login, or when the list is still due: a user whose role must use
 * a second factor, and who has none, can use nothing else yet and goes to
 * set one up; anyone else gets the policy's controls, the employee list and
 * the employee route of the URL.
 */
async function loadEmployees() {
  const userId = currentUserId;
  const factors = await security.reload({ quiet: true });
  if (currentUserId !== userId) return;
  if (factors?.required && !factors.totp && !factors.passkeys?.length) {
    listDue = true;
    sendToEnrol(ENROL_MESSAGES.required);
    return;
  }
  listDue = false;
  await updatePermissions(auth.user);
  await employees.reload({ announce: document.body.dataset.view === 'employees' });
  if (currentUserId !== null && document.body.dataset.view === 'employees') {
    employees.showRoute(parseRoute(location.pathname));
  }
}

auth.onChange((state) => {
  panel.update(state);

  if (state.user) {
    const isNewSession = state.user.id !== currentUserId;
    currentUserId = state.user.id;
    showApp(state.user);
    if (state.reason === 'refresh_failed') {
      status.error(`Could not renew your session: ${state.error?.message ?? 'unknown error'} Retrying shortly.`);
    }
    if (isNewSession) {
      login.reset(); // e.g. another tab logged in while this one had the form open
      employees.reset();
      listDue = false;
      showRoute(parseRoute(location.pathname), { employeesRoute: false });
      loadEmployees();
    } else if (!listDue) {
      updatePermissions(state.user); // the roles may have changed
    }
    if (!isNewSession && ADMIN_VIEWS.includes(document.body.dataset.view) && !isAdmin()) {
      navigate('/', { replace: true }); // demoted meanwhile
      showRoute({ name: 'list' });
    }
    return;
  }

  const wasLoggedIn = currentUserId !== null;
  currentUserId = null;
  listDue = false;
  permissionsFor = null;
  employees.setPermissions({ canEdit: false, canDelete: false });
  employees.reset();
  sessions.reset();
  password.reset();
  security.reset();
  stepUpDialog.cancel();
  users.reset();
  events.reset();
  activity.reset();
  linked.reset();
  el.navUsers.hidden = true;
  el.navEvents.hidden = true;
  if (wasLoggedIn) {
    status.clear();
    navigate('/', { replace: true });
  }
  let message = endSentence(state.ended) ?? END_MESSAGES[state.reason] ?? null;
  if (state.reason === 'unavailable') {
    message = `Could not check for an existing session: ${state.error?.message ?? 'the server did not answer.'}`;
  }
  showLogin(message);
});

// --- session controls ----------------------------------------------------------

el.logout.addEventListener('click', async () => {
  el.logout.disabled = true;
  try {
    await auth.logout(); // onChange shows the login view in every tab
  } catch (err) {
    status.error(`Signed out here, but the server could not be told: ${err.message}`);
  } finally {
    el.logout.disabled = false;
  }
});

el.refreshNow.addEventListener('click', async () => {
  el.refreshNow.disabled = true;
  try {
    if (await auth.refresh()) status.say('Access token renewed.');
  } catch (err) {
    status.error(`Could not renew the access token: ${err.message}`);
  } finally {
    el.refreshNow.disabled = false;
  }
});

// --- start -------------------------------------------------------------------

document.body.dataset.state = 'loading';
auth.init();
