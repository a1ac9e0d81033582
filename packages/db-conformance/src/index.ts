export { describeConformance } from './suite.js';
export { snapshot, listKeys, putText, text, type ConformanceContext, type ConformanceFactory, type ConformanceOptions, type Feature } from './context.js';
