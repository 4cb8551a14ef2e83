// A real, OpenID Certified authorization server (npm oidc-provider) for oauthbearer's tests.
// Test infrastructure only: in-memory storage, loopback only, fake credentials.
//
// Configuration comes from one JSON document in IDP_CONFIG (written by tests/support/idp.py):
//   { "port": 0, "accessTokenTTL": 300, "clients": [ <oidc-provider client metadata> ] }
// A fresh RSA signing key is generated per process, so restarting the process on the
// same port is a key rotation. When listening, one line is printed on stdout:
//   READY {"issuer": "http://127.0.0.1:<port>", "kid": "<signing key id>"}
import http from 'node:http';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import Provider, { errors } from 'oidc-provider';

const config = JSON.parse(process.env.IDP_CONFIG ?? '{}');
const ttl = Number(config.accessTokenTTL ?? 300);

// Resource indicators (RFC 8707) decide the access-token format: the JWT resource is what
// the sidecar verifies locally against /jwks, the opaque one is what it must introspect.
const RESOURCES = {
  'urn:kafka:jwt': { format: 'jwt' },
  'urn:kafka:opaque': { format: 'opaque' },
};

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), use: 'sig', alg: 'RS256' };

const server = http.createServer();
server.listen(Number(config.port ?? 0), '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: config.clients ?? [],
    jwks: { keys: [signingKey] },
    cookies: { keys: ['test-only-cookie-key-not-a-secret'] },
    scopes: ['openid', 'kafka'],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      revocation: { enabled: true, allowedPolicy: async () => true },
      // The sidecar's own client may introspect everyone's tokens; other clients only their own.
      introspection: {
        enabled: true,
        allowedPolicy: async (ctx, client, token) =>
          client.clientId === 'introspector' || token.clientId === client.clientId,
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: async (ctx, client) => client.metadata().default_resource ?? 'urn:kafka:jwt',
        useGrantedResource: async () => true,
        getResourceServerInfo: async (ctx, resource) => {
          const info = RESOURCES[resource];
          if (!info) throw new errors.InvalidTarget();
          return {
            scope: 'kafka',
            audience: resource,
            accessTokenTTL: ttl,
            accessTokenFormat: info.format,
            ...(info.format === 'jwt' ? { jwt: { sign: { alg: 'RS256' } } } : {}),
          };
        },
      },
    },
    extraClientMetadata: { properties: ['default_resource'] },
    // Without this, client-credentials tokens have no `sub`, and introspection answers
    // would carry none (jairsjunior's validator requires one).
    extraTokenClaims: async (ctx, token) => {
      if (token.kind !== 'ClientCredentials') return undefined;
      // kafka-secretjwt is shaped like a Keycloak service account (name and realm roles
      // where Keycloak keeps them) for the principal and groups tests.
      if (token.clientId === 'kafka-secretjwt') {
        return {
          sub: token.clientId,
          preferred_username: `service-account-${token.clientId}`,
          realm_access: { roles: ['kafka-writers', 'kafka-readers'] },
        };
      }
      return { sub: token.clientId };
    },
  });
  provider.on('server_error', (ctx, err) => console.error('server_error', err));
  server.on('request', provider.callback());
  console.log(`READY ${JSON.stringify({ issuer, kid: signingKey.kid })}`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
