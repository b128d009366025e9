// Mints the peers' test tokens with jsonwebtoken (from the Express peer's
// node_modules): the claims of a portcullis access token, signed HS256
// with the gateway's secret, ES256 and RS256 with the keys bench/envelope
// made, plus an expired one and one with a broken signature per algorithm.
//
// usage: node mint.js DIR   (env: BENCH_JWT_SECRET, BENCH_ISSUER,
// BENCH_AUDIENCE, BENCH_ROLE); writes DIR/token-{hs256,es256,rs256}{,-expired,-forged}
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const jwt = require(path.join(__dirname, "express/node_modules/jsonwebtoken"));

const dir = process.argv[2];
const env = process.env;
const now = Math.floor(Date.now() / 1000);
const claims = (exp) => ({
  sub: "bench-peer",
  name: "bench-peer",
  roles: [env.BENCH_ROLE],
  sid: "bench",
  iat: now - 60,
  exp,
  iss: env.BENCH_ISSUER,
  aud: env.BENCH_AUDIENCE,
  jti: "bench",
});
const keys = {
  hs256: env.BENCH_JWT_SECRET,
  es256: fs.readFileSync(path.join(dir, "es256.key")),
  rs256: fs.readFileSync(path.join(dir, "rs256.key")),
};
// flips one character in the middle of the signature (not the last one,
// whose low bits base64url may ignore)
const forge = (t) => {
  const i = t.lastIndexOf(".") + 5;
  return t.slice(0, i) + (t[i] === "A" ? "B" : "A") + t.slice(i + 1);
};
for (const [alg, key] of Object.entries(keys)) {
  const sign = (exp) => jwt.sign(claims(exp), key, { algorithm: alg.toUpperCase() });
  const good = sign(now + 3600);
  fs.writeFileSync(path.join(dir, `token-${alg}`), good);
  fs.writeFileSync(path.join(dir, `token-${alg}-expired`), sign(now - 60));
  fs.writeFileSync(path.join(dir, `token-${alg}-forged`), forge(good));
}
