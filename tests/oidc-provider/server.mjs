// A real OpenID Provider for portcullis's tests: panva's oidc-provider on
// loopback, with the parts a test drives replaced by small JSON (or one
// plain HTML form, for the browser) instead of the dev interaction pages.
//
//   node server.mjs PORT  (the issuer is http://127.0.0.1:PORT)
//
// Environment (JSON): OP_CLIENTS = [{client_id, client_secret,
// backchannel_logout_uri}], OP_GROUPS = {subject: [groups]}.
//
// What a test may ask of it, besides the standard endpoints:
//   GET  /interaction/:uid          JSON {uid, prompt} (HTML for a browser)
//   POST /interaction/:uid/login    form login=SUBJECT: signs SUBJECT in
//   POST /test/tamper               JSON {set, unset, key}: the next ID token
//        from /token gets claims set or removed and is signed with key
//        "provider" (its own), "unknown" (a key it never published), "hs256"
//        (the first client's secret) or "none"
//   POST /test/sign                 JSON {claims, key}: a JWT signed so
//   POST /test/backchannel-logout   JSON {client_id, sub}: the provider's own
//        logout token to that client, for the subject's last session
//   POST /test/groups               JSON {sub, groups}: the subject's groups
// Prints "listening on port PORT" once it serves.
import http from 'node:http';
import Provider from 'oidc-provider';
import * as jose from 'jose';

const port = Number(process.argv[2]);
const issuer = `http://127.0.0.1:${port}`;
const clients = JSON.parse(process.env.OP_CLIENTS || '[]');
const groups = JSON.parse(process.env.OP_GROUPS || '{}');

const signing = await jose.generateKeyPair('RS256', { extractable: true });
const stranger = await jose.generateKeyPair('RS256', { extractable: true });
const signingJwk = { ...(await jose.exportJWK(signing.privateKey)), kid: 'op-key-1', alg: 'RS256', use: 'sig' };

// the last session id the provider told each subject's client, by subject
const sids = new Map();
let tamper = null;

const provider = new Provider(issuer, {
  clients: clients.map((c) => ({
    client_id: c.client_id,
    client_secret: c.client_secret,
    redirect_uris: c.redirect_uris,
    response_types: ['code'],
    grant_types: ['authorization_code'],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'RS256',
    backchannel_logout_uri: c.backchannel_logout_uri,
    backchannel_logout_session_required: true,
  })),
  jwks: { keys: [signingJwk] },
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: false },
    backchannelLogout: { enabled: true },
  },
  scopes: ['openid', 'profile', 'email', 'groups'],
  claims: {
    openid: ['sub'],
    profile: ['preferred_username', 'name'],
    email: ['email', 'email_verified'],
    groups: ['groups'],
  },
  conformIdTokenClaims: false,
  cookies: { keys: ['portcullis-test-provider-cookie-key'] },
  // the relying party under test is on loopback, which the provider's
  // SSRF guard refuses to post back-channel logouts to: drop the guard here
  fetch(url, options) {
    const { dispatcher, ...rest } = options;
    return globalThis.fetch(url, rest);
  },
  ttl: { Interaction: 600, Grant: 3600, Session: 3600, AccessToken: 600, IdToken: 600 },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, sub) {
    return {
      accountId: sub,
      async claims() {
        return {
          sub,
          preferred_username: sub,
          name: sub,
          email: `${sub}@example.com`,
          email_verified: true,
          groups: groups[sub] ?? [],
        };
      },
    };
  },
  // consent is granted: the tests are about the relying party
  async loadExistingGrant(ctx) {
    const { Grant } = ctx.oidc.provider;
    const grantId = ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) {
      const found = await Grant.find(grantId);
      if (found) return found;
    }
    const grant = new Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid profile email groups');
    grant.addOIDCClaims(['preferred_username', 'name', 'email', 'email_verified', 'groups']);
    await grant.save();
    ctx.oidc.session.ensureClientContainer(ctx.oidc.client.clientId);
    ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId, grant.jti);
    return grant;
  },
});
provider.proxy = false;

async function sign(claims, key) {
  if (key === 'none') {
    return new jose.UnsecuredJWT(claims).encode();
  }
  if (key === 'hs256') {
    // what a client secret could forge: HS256 with the first client's secret
    const secret = new TextEncoder().encode(clients[0]?.client_secret ?? '');
    return new jose.SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(secret);
  }
  const [privateKey, kid] = key === 'unknown' ? [stranger.privateKey, 'stranger-key'] : [signing.privateKey, 'op-key-1'];
  return new jose.SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' }).sign(privateKey);
}

// after /token: remember the session id, and tamper with the ID token if asked
provider.use(async (ctx, next) => {
  await next();
  if (ctx.path !== '/token' || ctx.status !== 200 || !ctx.body?.id_token) return;
  const claims = jose.decodeJwt(ctx.body.id_token);
  if (claims.sid) sids.set(claims.sub, claims.sid);
  if (tamper) {
    const { set = {}, unset = [], key = 'provider' } = tamper;
    tamper = null;
    const changed = { ...claims, ...set };
    for (const name of unset) delete changed[name];
    ctx.body = { ...ctx.body, id_token: await sign(changed, key) };
  }
});

function body(req) {
  return new Promise((resolve, reject) => {
    let data = '';
    req.on('data', (chunk) => { data += chunk; });
    req.on('end', () => resolve(data));
    req.on('error', reject);
  });
}

function json(res, status, value) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(value));
}

const LOGIN_PAGE = (uid) => `<!doctype html><html><head><title>Test IdP</title></head><body>
<form method="post" action="/interaction/${uid}/login">
<label>Username <input name="login" id="op-login" autocomplete="off"></label>
<button type="submit" id="op-submit">Sign in</button>
</form></body></html>`;

async function testRoute(req, res, path) {
  const input = JSON.parse((await body(req)) || '{}');
  if (path === '/test/tamper') {
    tamper = input;
    return json(res, 200, { ok: true });
  }
  if (path === '/test/sign') {
    return json(res, 200, { jwt: await sign(input.claims, input.key ?? 'provider') });
  }
  if (path === '/test/groups') {
    groups[input.sub] = input.groups;
    return json(res, 200, { ok: true });
  }
  if (path === '/test/backchannel-logout') {
    const client = await provider.Client.find(input.client_id);
    try {
      await client.backchannelLogout(input.sub, sids.get(input.sub));
      return json(res, 200, { ok: true });
    } catch (e) {
      return json(res, 502, { error: `${e.message}: ${e.cause?.message ?? e.cause ?? ''}` });
    }
  }
  return json(res, 404, { error: 'not_found' });
}

const callback = provider.callback();
const server = http.createServer(async (req, res) => {
  try {
    const path = new URL(req.url, issuer).pathname;
    if (req.method === 'POST' && path.startsWith('/test/')) {
      return await testRoute(req, res, path);
    }
    const interaction = path.match(/^\/interaction\/([^/]+)(\/login)?$/);
    if (interaction && req.method === 'GET' && !interaction[2]) {
      const details = await provider.interactionDetails(req, res);
      if ((req.headers.accept || '').includes('text/html')) {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        return res.end(LOGIN_PAGE(details.uid));
      }
      return json(res, 200, { uid: details.uid, prompt: details.prompt.name });
    }
    if (interaction && req.method === 'POST' && interaction[2]) {
      const login = new URLSearchParams(await body(req)).get('login');
      return await provider.interactionFinished(req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
    }
    return callback(req, res);
  } catch (e) {
    if (!res.headersSent) json(res, 500, { error: String(e.message) });
  }
});
server.listen(port, '127.0.0.1', () => {
  console.log(`listening on port ${port}`);
});
