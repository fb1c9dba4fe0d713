export { loadAgentKey, createClientAssertion, type AgentKey } from './agent-key.js';
