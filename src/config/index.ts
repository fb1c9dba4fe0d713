export * from './schema.js';
export * from './load.js';
export { defaults } from './defaults.js';
