/**
 * end-reasons.js — why a session ended, in plain words for the login
 * screen: one sentence for each `reason` the gateway's refresh 401 can
 * carry (contract §12), and for a reuse the `cause` when this tab was the
 * one that presented the old token. It only words; the auth client decides
 * that a session ended.
 */

/** One sentence per `reason` of the refresh 401. */
const SENTENCES = {
  logout: 'You signed out of this session in another tab or window.',
  logout_all: 'You signed out on another device and chose to sign out everywhere.',
  ended_elsewhere: 'You signed out on another device: this session was ended from your list of sessions.',
  admin: 'An administrator ended your sessions.',
  password_changed: 'Your password was changed, so we signed you out here.',
  factors_changed: 'Your second factor was changed, so we signed you out here.',
  user_disabled: 'An administrator disabled your account.',
  reuse_detected: 'Your session was used from somewhere else, so we ended it to protect you.',
  expired: 'Your session reached its time limit.',
  idle: 'You were signed out because you had not used the app for a while.',
  oidc_logout: 'You signed out at your identity provider.',
};

/**
 * A reuse this tab caused itself, when the token's successor was never
 * presented: most likely its renewal's answer never arrived, but a thief
 * who renewed first and has not renewed again looks the same.
 */
const OLD_KEY = 'An old key of your session was used again, perhaps after a lost connection or by someone else, so we ended it to protect you.';

/**
 * The sentence for how a session ended (`{reason, cause}` from the refresh
 * 401), ending in "Please sign in again."; null for a reason it does not
 * know, so the caller can fall back to a general one.
 */
export function endSentence(ended) {
  const reason = ended?.reason;
  const said = reason === 'reuse_detected' && ended.cause === 'successor_unused'
    ? OLD_KEY
    : Object.hasOwn(SENTENCES, reason ?? '') ? SENTENCES[reason] : null;
  return said && `${said} Please sign in again.`;
}
