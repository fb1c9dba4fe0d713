export { ToolCatalog } from './catalog.js';
export { CallAuthorizer, SCOPE_POLICY_ID, type CallRequest, type CallDecision } from './authorize.js';
