export { PolicyEngine, type Decision, type DecisionOutcome, type DecisionRequest, type EntityRef, type ApprovalRequirement } from './engine.js';
export { PolicyService, timeContext } from './policy-service.js';
export { compilePolicies, toolActionsSchema, type CompiledPolicies, type PolicyInfo } from './compile.js';
export { EntityStore } from './entity-store.js';
export { ArgTypeError, toCedarValue, jsonToCedar, cedarTypeOf, type CedarType } from './arg-types.js';
export { cedarVersion, type CedarValueJson, type EntityJson } from './cedar.js';
export { agentEntity, toolEntity, taskInfo } from './mandate-entities.js';
