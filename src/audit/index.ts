export { AuditLog, type AuditRecord, type VerifyResult } from './audit-log.js';
export { chainHash } from './chain.js';
export { redactSecrets, REDACTED } from './redact.js';
