// The OpenID provider PartnerGate's sign-in tests start: `node provider.mjs
// <port> <redirect-uri>[,<redirect-uri>...]`. It signs in, without a browser, the account named
// by `login_hint` and grants consent; it prints `READY <issuer>` when
// listening. Test accounts: see `accounts` below.
//
// For the relying-party negative tests, `POST /__test/tamper?mode=<mode>`
// makes the next token response carry an ID token changed the way `tampers`
// below describes (re-signed with the provider's own key unless the mode is
// about the signature). It applies once.
//
// `POST /__test/tamper?mode=response-iss&iss=<issuer>` makes the next
// authorization response (the redirect to the client) carry `iss=<issuer>`
// instead of this provider's (RFC 9207 mix-up); `iss=` (empty) drops it.
import { createPrivateKey, generateKeyPairSync, sign } from 'node:crypto';
import Provider from 'oidc-provider';

const port = Number(process.argv[2]);
const redirectUris = process.argv[3].split(',');
const issuer = `http://127.0.0.1:${port}`;

const accounts = {
  ivan: { email: 'ivan@acme.test', email_verified: true, name: 'Ivan Invited' },
  alice: { email: 'alice@acme.test', email_verified: true, name: 'Alice Admin' },
  bob: { email: 'bob@acme.test', email_verified: true, name: 'Bob Buyer' },
  mallory: { email: 'ivan@acme.test', email_verified: false, name: 'Mallory' },
  stranger: { email: 'stranger@elsewhere.test', email_verified: true, name: 'Stranger' },
  // Globex's two administrators and a buyer (the page's access tests).
  gina: { email: 'gina@globex.test', email_verified: true, name: 'Gina Admin' },
  gail: { email: 'gail@globex.test', email_verified: true, name: 'Gail Admin' },
  george: { email: 'george@globex.test', email_verified: true, name: 'George' },
  // The merchant's staff (a staff provider's accounts): Stella is invited
  // staff, Rex removed staff.
  stella: { email: 'stella@merchant.test', email_verified: true, name: 'Stella Staff' },
  rex: { email: 'rex@merchant.test', email_verified: true, name: 'Rex Removed' },
  // A prospect who applies through the onboarding form.
  penny: { email: 'penny@prospect.test', email_verified: true, name: 'Penny Prospect' },
  // Azure AD B2C's shape: no `email`, an `emails` array, `oid`, `idp`, `tfp`.
  b2c: { emails: ['ivan@acme.test'], oid: '00000000-0000-0000-0000-00000000b2c0', idp: 'local', tfp: 'B2C_1_signin', name: 'Ivan via B2C' },
  // Entra External ID's shape: `oid` and `tid` (`sub` is pairwise per
  // application), `xms_edov` (is the email's domain verified), no
  // `email_verified`.
  entra: { email: 'ivan@acme.test', oid: '00000000-0000-0000-0000-0000000e0001', tid: 'tenant-1', xms_edov: true, name: 'Ivan via Entra' },
  'entra-unverified-domain': { email: 'ivan@acme.test', oid: '00000000-0000-0000-0000-0000000e0002', tid: 'tenant-1', xms_edov: false, name: 'Mallory via Entra' },
  'entra-other-tenant': { email: 'ivan@acme.test', oid: '00000000-0000-0000-0000-0000000e0003', tid: 'tenant-2', xms_edov: true, name: 'Ivan elsewhere' },
};

function key(type, options, alg, kid) {
  const { privateKey } = generateKeyPairSync(type, options);
  return { ...privateKey.export({ format: 'jwk' }), alg, use: 'sig', kid };
}

const signingKeys = {
  RS256: key('rsa', { modulusLength: 2048 }, 'RS256', 'rs-1'),
  ES256: key('ec', { namedCurve: 'P-256' }, 'ES256', 'es-1'),
};
// Keys published in the JWKS besides the provider's own (key rotation).
const published = [];

const publicPart = ({ d, p, q, dp, dq, qi, ...rest }) => rest;
const b64 = (data) => Buffer.from(data).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

function jws(header, claims, jwk) {
  const input = `${b64(JSON.stringify(header))}.${b64(JSON.stringify(claims))}`;
  const privateKey = createPrivateKey({ key: jwk, format: 'jwk' });
  const options = header.alg === 'ES256' ? { key: privateKey, dsaEncoding: 'ieee-p1363' } : privateKey;
  return `${input}.${b64(sign('sha256', Buffer.from(input), options))}`;
}

// Each mode: (header, claims) -> the compact ID token to send instead.
const tampers = {
  'issuer-mismatch': (h, c) => jws(h, { ...c, iss: 'http://127.0.0.1:1/another-issuer' }, signingKeys[h.alg]),
  aud: (h, c) => jws(h, { ...c, aud: 'another-client' }, signingKeys[h.alg]),
  expired: (h, c) => jws(h, { ...c, iat: now() - 7200, exp: now() - 3600 }, signingKeys[h.alg]),
  'iat-future': (h, c) => jws(h, { ...c, iat: now() + 3600, exp: now() + 7200 }, signingKeys[h.alg]),
  'iat-missing': (h, { iat, ...c }) => jws(h, c, signingKeys[h.alg]),
  'sub-missing': (h, { sub, ...c }) => jws(h, c, signingKeys[h.alg]),
  'nonce-invalid': (h, c) => jws(h, { ...c, nonce: 'another-nonce' }, signingKeys[h.alg]),
  'bad-at_hash': (h, c) => jws(h, { ...c, at_hash: b64('not the access token') }, signingKeys[h.alg]),
  'sig-none': (h, c) => `${b64(JSON.stringify({ alg: 'none' }))}.${b64(JSON.stringify(c))}.`,
  'bad-sig': (h, c) => {
    const token = jws(h, c, signingKeys[h.alg]);
    const signature = Buffer.from(token.split('.')[2], 'base64url');
    signature[signature.length - 1] ^= 1;
    return `${token.split('.').slice(0, 2).join('.')}.${b64(signature)}`;
  },
  // Signed with a key the provider never publishes.
  'kid-unpublished': (h, c) => {
    const unpublished = key('rsa', { modulusLength: 2048 }, 'RS256', 'rs-unpublished');
    return jws({ ...h, alg: 'RS256', kid: unpublished.kid }, c, unpublished);
  },
  // The provider rotates to a new key, publishes it, and signs with it.
  'key-rotation': (h, c) => {
    const rotated = key('rsa', { modulusLength: 2048 }, 'RS256', `rs-rotated-${published.length + 1}`);
    published.push(publicPart(rotated));
    return jws({ ...h, alg: 'RS256', kid: rotated.kid }, c, rotated);
  },
};
let tamper = null;
let responseIss = null;

const client = (id, alg) => ({
  client_id: id,
  client_secret: 'test-secret',
  redirect_uris: redirectUris,
  response_types: ['code'],
  grant_types: ['authorization_code'],
  token_endpoint_auth_method: 'client_secret_basic',
  id_token_signed_response_alg: alg,
});

const provider = new Provider(issuer, {
  clients: [client('storefront-rs256', 'RS256'), client('storefront-es256', 'ES256')],
  jwks: { keys: Object.values(signingKeys) },
  pkce: { required: () => true },
  features: { devInteractions: { enabled: false } },
  conformIdTokenClaims: false,
  scopes: ['openid', 'email', 'profile', 'b2c', 'entra'],
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'], b2c: ['emails', 'oid', 'idp', 'tfp'], entra: ['email', 'oid', 'tid', 'xms_edov'] },
  cookies: { keys: ['partnergate-test-only'] },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, id) {
    if (!accounts[id]) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...accounts[id] }; } };
  },
});

provider.use(async (ctx, next) => {
  if (ctx.path === '/__test/tamper' && ctx.method === 'POST' && ctx.query.mode === 'response-iss') {
    responseIss = ctx.query.iss ?? '';
    ctx.status = 204;
    return;
  }
  if (ctx.path === '/__test/tamper' && ctx.method === 'POST') {
    if (!tampers[ctx.query.mode]) {
      ctx.status = 400;
      ctx.body = `unknown tamper mode ${ctx.query.mode}; known: ${Object.keys(tampers).join(', ')}`;
      return;
    }
    tamper = ctx.query.mode;
    ctx.status = 204;
    return;
  }
  await next();
  const location = ctx.response.get('Location');
  if (responseIss !== null && location && redirectUris.some((uri) => location.startsWith(uri))) {
    const url = new URL(location);
    if (url.searchParams.has('code')) {
      if (responseIss) url.searchParams.set('iss', responseIss);
      else url.searchParams.delete('iss');
      ctx.set('Location', url.toString());
      responseIss = null;
    }
  }
  if (ctx.path === '/jwks' && published.length && ctx.body?.keys) {
    ctx.body = { ...ctx.body, keys: [...ctx.body.keys, ...published] };
  }
  if (ctx.path === '/token' && tamper && ctx.body?.id_token) {
    const [header, claims] = ctx.body.id_token.split('.').slice(0, 2).map((part) => JSON.parse(Buffer.from(part, 'base64url')));
    ctx.body = { ...ctx.body, id_token: tampers[tamper](header, claims) };
    tamper = null;
  }
});

provider.use(async (ctx, next) => {
  if (!ctx.path.startsWith('/interaction/')) return next();
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  let result;
  if (details.prompt.name === 'login') {
    const hint = details.params.login_hint;
    if (!accounts[hint]) {
      ctx.status = 400;
      ctx.body = `unknown test account ${hint}`;
      return;
    }
    result = { login: { accountId: hint } };
  } else {
    const grant = new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
    grant.addOIDCScope(details.params.scope);
    result = { consent: { grantId: await grant.save() } };
  }
  const to = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: true });
  ctx.status = 303;
  ctx.set('Location', to);
});

provider.listen(port, '127.0.0.1', () => console.log(`READY ${issuer}`));
