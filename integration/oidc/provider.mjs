// The OpenID provider PartnerGate's sign-in tests start: `node provider.mjs
// <port> <redirect-uri>[,<redirect-uri>...]`. It signs in, without a browser, the account named
// by `login_hint` and grants consent; it prints `READY <issuer>` when
// listening. Test accounts: see `accounts` below.
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

const port = Number(process.argv[2]);
const redirectUris = process.argv[3].split(',');
const issuer = `http://127.0.0.1:${port}`;

const accounts = {
  ivan: { email: 'ivan@acme.test', email_verified: true, name: 'Ivan Invited' },
  bob: { email: 'bob@acme.test', email_verified: true, name: 'Bob Buyer' },
  mallory: { email: 'ivan@acme.test', email_verified: false, name: 'Mallory' },
  stranger: { email: 'stranger@elsewhere.test', email_verified: true, name: 'Stranger' },
  // Azure AD B2C's shape: no `email`, an `emails` array, `oid`, `idp`, `tfp`.
  b2c: { emails: ['ivan@acme.test'], oid: '00000000-0000-0000-0000-00000000b2c0', idp: 'local', tfp: 'B2C_1_signin', name: 'Ivan via B2C' },
};

function key(type, options, alg, kid) {
  const { privateKey } = generateKeyPairSync(type, options);
  return { ...privateKey.export({ format: 'jwk' }), alg, use: 'sig', kid };
}

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
  jwks: { keys: [key('rsa', { modulusLength: 2048 }, 'RS256', 'rs-1'), key('ec', { namedCurve: 'P-256' }, 'ES256', 'es-1')] },
  pkce: { required: () => true },
  features: { devInteractions: { enabled: false } },
  conformIdTokenClaims: false,
  scopes: ['openid', 'email', 'profile', 'b2c'],
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'], b2c: ['emails', 'oid', 'idp', 'tfp'] },
  cookies: { keys: ['partnergate-test-only'] },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, id) {
    if (!accounts[id]) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...accounts[id] }; } };
  },
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
