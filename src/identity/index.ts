export { AgentService, type CreateAgentInput, type AgentLifecycleHooks } from './agent-service.js';
export { ClientAssertionVerifier, ClientAuthError, JWT_BEARER_ASSERTION, type AuthenticatedAgent } from './client-assertion.js';
export { SigningKeys, SIGNING_ALG } from './signing-keys.js';
export { ensureAdminToken, adminTokenPath } from './admin-token.js';
export { normalisePublicJwks, algForJwk } from './jwk.js';
export { agentIdFor, resolveAgentId, AGENT_NAME } from './spiffe.js';
export { writeSecretFile, readSecretFile } from './files.js';
export { ApiTokenService, type Caller } from './api-tokens.js';
