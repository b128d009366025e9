/**
 * event-words.js — a security event (contract §12) said in plain words:
 * a short label per kind (the admin's filter offers them) and one line
 * for an event, with what its `reason`, `detail` and `actor` add ("Signed
 * in with password and authenticator app", "Session ended by a password
 * change", "Account disabled by root"). For display only.
 */

/** Every kind the gateway stores, with its label, in the API's order. */
export const KINDS = [
  ['login_ok', 'Signed in'],
  ['login_failed', 'Sign-in failed'],
  ['login_throttled', 'Sign-in refused: too many attempts'],
  ['second_factor_ok', 'Code accepted at sign-in'],
  ['second_factor_failed', 'Wrong code at sign-in'],
  ['stepped_up', 'Identity confirmed again'],
  ['refresh_replayed', 'Renewal repeated'],
  ['refresh_token_reused', 'Old session key used again'],
  ['logout', 'Signed out'],
  ['session_ended', 'Session ended'],
  ['password_changed', 'Password changed'],
  ['factor_added', 'Second factor added'],
  ['factor_removed', 'Second factor removed'],
  ['roles_changed', 'Roles changed'],
  ['user_created', 'Account created'],
  ['user_disabled', 'Account disabled'],
  ['user_enabled', 'Account enabled'],
  ['oidc_login', 'Signed in with an identity provider'],
  ['backchannel_logout', 'Signed out by the identity provider'],
];

const LABELS = Object.fromEntries(KINDS);

/** How a session ended, after "Session ended …". */
const ENDED = {
  logout: 'by signing out',
  logout_all: 'by signing out everywhere',
  ended_elsewhere: 'from another session',
  admin: 'by an administrator',
  password_changed: 'by a password change',
  factors_changed: 'by a change of second factor',
  user_disabled: 'because the account was disabled',
  reuse_detected: 'because an old session key was used again',
  expired: 'at its time limit',
  idle: 'after a long time unused',
  oidc_logout: 'at the identity provider',
};

const METHODS = {
  pwd: 'password',
  otp: 'authenticator app',
  recovery_code: 'recovery code',
  hwk: 'passkey',
  fed: 'identity provider',
};

/** Why a reuse happened, from its `cause`. */
const CAUSES = {
  successor_used: 'someone else held a newer key',
  successor_unused: 'most likely after a lost connection',
};

const FACTORS = { totp: 'authenticator app', recovery_codes: 'recovery codes', all: 'every second factor' };

const words = (table, key) => (Object.hasOwn(table, key ?? '') ? table[key] : null);

/** The line's words after the label, from the event's reason and detail. */
function specifics(event) {
  const detail = event.detail ?? {};
  switch (event.kind) {
    case 'login_ok': {
      const how = String(detail.amr ?? '').split(',').map((m) => words(METHODS, m)).filter(Boolean);
      return how.length ? `with ${how.join(' and ')}` : null;
    }
    case 'oidc_login':
    case 'backchannel_logout':
      return detail.provider ? `(${detail.provider})` : null;
    case 'login_failed':
      return detail.username_unknown ? '(unknown username)' : null;
    case 'second_factor_ok':
    case 'second_factor_failed':
    case 'stepped_up': {
      const method = words(METHODS, detail.method);
      return method && `(${method})`;
    }
    case 'refresh_token_reused': {
      const why = words(CAUSES, detail.cause);
      return `, so the session was ended${why ? ` (${why})` : ''}`;
    }
    case 'logout':
      return event.reason === 'logout_all' ? 'everywhere' : null;
    case 'session_ended':
      return words(ENDED, event.reason);
    case 'factor_added':
    case 'factor_removed': {
      const factor = words(FACTORS, detail.factor);
      return factor && `(${factor})`;
    }
    case 'roles_changed':
    case 'user_created':
      return detail.roles ? `(roles: ${String(detail.roles).split(',').join(', ')})` : null;
    default:
      return null;
  }
}

/** The label of a kind, or the kind itself for one this page does not know. */
export function kindLabel(kind) {
  return words(LABELS, kind) ?? kind;
}

/** One line saying what happened: "Signed in with password", "Account disabled by root". */
export function describeEvent(event) {
  const more = specifics(event);
  let line = kindLabel(event.kind);
  if (more) line += more.startsWith(',') ? more : ` ${more}`;
  if (event.actor) line += ` by ${event.actor}`;
  return line;
}
