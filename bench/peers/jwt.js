// bench/envelope's nginx + njs peer: HS256 verification in nginx's own
// JavaScript (njs), the way a team without nginx Plus's auth_jwt does it.
// `js_set $jwt_sub jwt.sub` runs it once per request (the location copies
// it with `set`); it answers the token's subject, or "" for a token that
// fails any check: the signature (constant-time compare), exp, iss, aud and
// the role. The roles go to $jwt_roles for the identity header.
const crypto = require("crypto");

function sub(r) {
  const m = /^Bearer ([\w-]+)\.([\w-]+)\.([\w-]+)$/.exec(r.headersIn.Authorization || "");
  if (!m) return "";
  const v = r.variables;
  const mac = crypto.createHmac("sha256", v.jwt_secret).update(m[1] + "." + m[2]).digest("base64url");
  if (!same(mac, m[3])) return "";
  let header, claims;
  try {
    header = JSON.parse(Buffer.from(m[1], "base64url").toString());
    claims = JSON.parse(Buffer.from(m[2], "base64url").toString());
  } catch (e) {
    return "";
  }
  const now = Date.now() / 1000;
  if (header.alg !== "HS256" || !(claims.exp > now)) return "";
  if (claims.iss !== v.jwt_issuer || claims.aud !== v.jwt_audience) return "";
  if (!Array.isArray(claims.roles) || claims.roles.indexOf(v.jwt_role) < 0) return "";
  v.jwt_roles = claims.roles.join(",");
  return String(claims.sub);
}

function same(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

export default { sub };
