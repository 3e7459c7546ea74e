// Reference OpenID Provider for bench/reference_load.py: panva's oidc-provider configured as
// close to the Curbside hub as it allows. Storage is the default in-memory adapter, its best
// case, or with REFERENCE_STORE=redis the Redis adapter of redis_adapter.mjs (the design
// oidc-provider documents as its example adapter; the hub uses PostgreSQL + Redis). Sign-in
// uses the built-in devInteractions (login form, then consent form; the login form accepts
// any password, the hub checks an argon2id hash).
//
//   node server.mjs [port]         (or PORT=...; BENCH_CLIENT_ID / BENCH_CLIENT_SECRET;
//                                   REFERENCE_STORE=memory|redis, REFERENCE_REDIS_URL/_PREFIX)
import { createHmac, generateKeyPairSync, randomBytes } from 'node:crypto';

import Provider from 'oidc-provider';

const store = process.env.REFERENCE_STORE || 'memory';
if (!['memory', 'redis'].includes(store)) throw new Error(`REFERENCE_STORE=${store}: memory or redis`);
const adapter = store === 'redis' ? (await import('./redis_adapter.mjs')).default : undefined;

const port = Number(process.argv[2] || process.env.PORT || 3000);
const issuer = `http://127.0.0.1:${port}`;
const pairwiseSalt = randomBytes(32);

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'bench-rs256', alg: 'RS256', use: 'sig' };

const profile = {
  name: 'Bench Doctor',
  given_name: 'Bench',
  family_name: 'Doctor',
  email: 'bench@example.org',
  email_verified: true,
};

const provider = new Provider(issuer, {
  ...(adapter && { adapter }),
  clients: [{
    client_id: process.env.BENCH_CLIENT_ID || 'bench',
    client_secret: process.env.BENCH_CLIENT_SECRET || 'bench-secret',
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
    response_types: ['code'],
    redirect_uris: ['https://bench.example/cb'],
    subject_type: 'pairwise',
  }],
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  // Same paths as the hub.
  routes: { authorization: '/authorize', userinfo: '/userinfo' },
  responseTypes: ['code'],
  scopes: ['openid', 'profile', 'email', 'offline_access'],
  claims: {
    openid: ['sub'],
    profile: ['name', 'given_name', 'family_name'],
    email: ['email', 'email_verified'],
  },
  subjectTypes: ['public', 'pairwise'],
  // Like the hub: HMAC-SHA256 of (sector identifier, local account id).
  pairwiseIdentifier: async (ctx, accountId, client) => createHmac('sha256', pairwiseSalt)
    .update(`${client.sectorIdentifier}\0${accountId}`).digest('base64url'),
  pkce: { required: () => true },
  rotateRefreshToken: true,
  features: {
    devInteractions: { enabled: true },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    userinfo: { enabled: true },
  },
  // The hub's lifetimes (seconds).
  ttl: {
    AccessToken: 600,
    ClientCredentials: 600,
    IdToken: 600,
    AuthorizationCode: 60,
    RefreshToken: 30 * 24 * 3600,
    Interaction: 900,
    Session: 12 * 3600,
    Grant: 30 * 24 * 3600,
  },
  async findAccount(ctx, id) {
    return { accountId: id, claims: async () => ({ sub: id, ...profile }) };
  },
});

provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${issuer}; ${store} store`);
});
