// An authorization server Patchbay did not write — panva's oidc-provider (npm, installed by
// `cargo xtask setup` from package.json) — in front of a minimal MCP endpoint, for the e2e
// tests. The MCP part (a few lines below) only checks the provider's access tokens and
// answers initialize / tools/list / tools/call of `echo`; every OAuth decision (discovery,
// dynamic registration as a native client, PKCE, resource indicators, refresh rotation,
// revocation) is oidc-provider's own.
//
// Usage: node oidc-mcp.mjs PORT. Prints `listening http://127.0.0.1:PORT` when ready.
// The person's consent is automatic: the interaction page approves what was asked.

import http from 'node:http';
import { randomUUID } from 'node:crypto';
import Provider from 'oidc-provider';

const port = Number(process.argv[2] || 0);
const base = `http://127.0.0.1:${port}`;
const resource = `${base}/mcp`;

const provider = new Provider(base, {
  clients: [],
  cookies: { keys: ['patchbay-e2e-only'] },
  scopes: ['openid', 'offline_access', 'mcp:tools'],
  features: {
    devInteractions: { enabled: false },
    registration: { enabled: true },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, indicator) => {
        if (indicator !== resource) throw new Error(`unknown resource ${indicator}`);
        return { scope: 'mcp:tools', audience: resource, accessTokenFormat: 'opaque', accessTokenTTL: 3600 };
      },
    },
  },
  // Refresh tokens for every client allowed the grant (not only with `prompt=consent`).
  issueRefreshToken: (ctx, client) => client.grantTypeAllowed('refresh_token'),
  findAccount: (ctx, id) => ({ accountId: id, claims: () => ({ sub: id }) }),
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
});
provider.on('server_error', (ctx, err) => console.error('oidc-provider server_error', err));

// The person approves whatever was asked.
async function approve(req, res) {
  const details = await provider.interactionDetails(req, res);
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: 'tester', clientId: details.params.client_id });
  const missing = details.prompt.details;
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes || {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { login: { accountId: 'tester' }, consent: { grantId } }, { mergeWithLastSubmission: false });
}

function send(res, status, body, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(body === undefined ? '' : JSON.stringify(body));
}

const sessions = new Set();

async function mcp(req, res) {
  const auth = req.headers.authorization || '';
  const token = auth.startsWith('Bearer ') ? await provider.AccessToken.find(auth.slice(7)) : undefined;
  const valid = token && !token.isExpired && [].concat(token.aud || []).includes(resource);
  if (!valid) {
    return send(res, 401, { error: 'invalid_token' }, {
      'www-authenticate': `Bearer error="invalid_token", resource_metadata="${base}/.well-known/oauth-protected-resource/mcp"`,
    });
  }
  let raw = '';
  for await (const chunk of req) raw += chunk;
  const msg = raw ? JSON.parse(raw) : {};
  if (msg.method === 'initialize') {
    const id = randomUUID();
    sessions.add(id);
    return send(res, 200, { jsonrpc: '2.0', id: msg.id, result: {
      protocolVersion: msg.params.protocolVersion, capabilities: { tools: {} },
      serverInfo: { name: 'oidc-provider-mcp', version: '1' } } }, { 'mcp-session-id': id });
  }
  if (!sessions.has(req.headers['mcp-session-id'])) return send(res, 400, { error: 'unknown session' });
  if (req.method !== 'POST') return send(res, req.method === 'DELETE' ? 200 : 405);
  if (msg.id === undefined) return send(res, 202);
  const result = msg.method === 'tools/list'
    ? { tools: [{ name: 'echo', description: 'Returns its text.', inputSchema: { type: 'object', properties: { text: { type: 'string' } } } }] }
    : { content: [{ type: 'text', text: String(msg.params?.arguments?.text ?? '') }], isError: false };
  send(res, 200, { jsonrpc: '2.0', id: msg.id, result });
}

const oidc = provider.callback();
const server = http.createServer((req, res) => {
  const path = new URL(req.url, base).pathname;
  const fail = (err) => { console.error(err); if (!res.headersSent) send(res, 500, { error: String(err) }); };
  if (path.startsWith('/interaction/')) return approve(req, res).catch(fail);
  if (path === '/.well-known/oauth-protected-resource/mcp') {
    return send(res, 200, { resource, authorization_servers: [base], scopes_supported: ['mcp:tools'] });
  }
  if (path === '/mcp') return mcp(req, res).catch(fail);
  return oidc(req, res);
});
server.listen(port, '127.0.0.1', () => console.log(`listening ${base}`));
