// An MCP client Patchbay did not write: the official TypeScript SDK
// (@modelcontextprotocol/sdk, pinned in package.json, installed by `cargo xtask setup`),
// signing in to a Patchbay edge's /mcp with its own OAuth code (discovery, dynamic
// registration, PKCE, token exchange) and calling one tool.
//
//   node testkit/js/mcp-sdk-client.mjs <mcp url> <redirect uri> <tool>
//
// Prints `AUTHORIZE <url>` when the person must sign in, then reads one line on stdin: the
// URL the authorization server sent the browser to. Prints `RESULT <json>` with the tool's
// result and exits 0; any failure exits 1 with `ERROR <message>`. Tokens stay in memory.

import { createInterface } from "node:readline";
import { randomBytes } from "node:crypto";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";

const [mcpUrl, redirectUri, tool] = process.argv.slice(2);
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();

const saved = {};
const provider = {
  get redirectUrl() {
    return redirectUri;
  },
  get clientMetadata() {
    return {
      client_name: "MCP TypeScript SDK",
      redirect_uris: [redirectUri],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  },
  state: () => randomBytes(16).toString("hex"),
  clientInformation: () => saved.client,
  saveClientInformation: (info) => {
    saved.client = info;
  },
  tokens: () => saved.tokens,
  saveTokens: (tokens) => {
    saved.tokens = tokens;
  },
  redirectToAuthorization: (url) => {
    saved.state = url.searchParams.get("state");
    console.log(`AUTHORIZE ${url.href}`);
  },
  saveCodeVerifier: (verifier) => {
    saved.verifier = verifier;
  },
  codeVerifier: () => saved.verifier,
};

function connect() {
  const transport = new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider });
  const client = new Client({ name: "patchbay-e2e-sdk", version: "1.0.0" });
  return { client, transport };
}

try {
  let { client, transport } = connect();
  try {
    await client.connect(transport);
  } catch (e) {
    if (!(e instanceof UnauthorizedError)) throw e;
    const { value: landed } = await lines.next();
    const back = new URL(landed.trim());
    if (back.searchParams.get("state") !== saved.state) throw new Error("state mismatch");
    const code = back.searchParams.get("code");
    if (!code) throw new Error(`no code: ${back.searchParams.get("error")}`);
    await transport.finishAuth(code);
    ({ client, transport } = connect());
    await client.connect(transport);
  }
  // An error result may mean the helper's overview is still on its way to the edge.
  let result;
  for (let attempt = 0; attempt < 40; attempt++) {
    result = await client.callTool({ name: tool, arguments: {} });
    if (!result.isError) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  console.log(`RESULT ${JSON.stringify(result)}`);
  await client.close();
  process.exit(0);
} catch (e) {
  console.log(`ERROR ${e?.message ?? e}`);
  process.exit(1);
}
