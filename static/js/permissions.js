/**
 * permissions.js — what the signed-in user may do on /api, as the gateway
 * says (GET /auth/policy), so the controls shown match the configured policy
 * rather than a copy of the default one. The gateway still decides every
 * request; this only hides buttons that would be refused.
 *
 * The rules come in order; the first whose method and path prefix match
 * decides, and a request no rule matches is refused — the gateway's own
 * reading (prefixes match on a segment boundary, case-insensitively).
 */

/** True if `rules` let `method` through on `path` (the part after /api). */
export function allows(rules, method, path) {
  const target = path.toLowerCase();
  const rule = rules.find((r) => {
    const methodOk = r.methods.includes('*') || r.methods.includes(method);
    const prefix = r.path === '/' ? '' : r.path.toLowerCase();
    const pathOk = target.startsWith(prefix) && (target.length === prefix.length || target[prefix.length] === '/');
    return methodOk && pathOk;
  });
  return Boolean(rule && rule.allowed);
}

/**
 * Asks the gateway for the user's view of the policy. Resolves with
 * `(method, path) => boolean`, or null when the answer cannot be had (then
 * show no control: the safe side).
 */
export async function loadPermissions(auth) {
  try {
    const res = await auth.fetchApi('/auth/policy');
    if (!res.ok) return null;
    const { rules } = await res.json();
    if (!Array.isArray(rules)) return null;
    return (method, path) => allows(rules, method, path);
  } catch {
    return null;
  }
}
