export { TaskService, type StartedTask, type TaskLimits } from './task-service.js';
export { CredentialService, type TaskClaims, type IssuedCredential } from './credentials.js';
export { RevocationList } from './revocation.js';
export { parseAuthorizationDetails, normaliseScope, checkCallScope, scopeToDetails, type ScopeCheck } from './scope.js';
export { canonicalPath, canonicalResourceArg, normaliseResource, globMatch, resourceFromArg } from './resource-uri.js';
