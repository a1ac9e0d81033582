export * from './errors.js';
export * from './types.js';
export * from './backend.js';
export * from './ids.js';
