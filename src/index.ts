// Mandate as a library: the composition root and the types integrators need.

export { createMandate, Endpoints, type Mandate, type MandateOptions } from './mandate.js';
export { loadConfig, type MandateConfig } from './config/load.js';
export { MandateError, type ErrorCode } from './core/errors.js';
export { ManualClock, systemClock, type Clock } from './core/clock.js';
export type { Decision, DecisionOutcome } from './policy/engine.js';
