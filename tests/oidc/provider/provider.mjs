// A real OpenID Connect provider (the npm package oidc-provider) for the sign-in tests.
//
//   node provider.mjs CONFIG.json
//
// CONFIG: {"client": {"client_id", "client_secret", "redirect_uris": [...]},
//          "accounts": {"<sub>": {"email", "email_verified", "name"}, ...}}
// Listens on a free loopback port, then prints one line, {"issuer": "http://127.0.0.1:PORT"}.
// Sign-in uses the package's development interactions: a login form that takes any account id
// (the password is ignored), then a consent form, and an "abort" link that answers
// access_denied. PKCE is required of every client, as our client must always send it.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const accounts = config.accounts;

const server = createServer();
server.listen(0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: [{
      ...config.client,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    pkce: { required: () => true },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'groups', 'roles'] },
    async findAccount(ctx, id) {
      if (!Object.hasOwn(accounts, id)) return undefined;
      return { accountId: id, claims: async () => ({ sub: id, ...accounts[id] }) };
    },
    cookies: { keys: ['a test provider only, never deployed'] },
    features: { devInteractions: { enabled: true } },
  });
  server.on('request', provider.callback());
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
