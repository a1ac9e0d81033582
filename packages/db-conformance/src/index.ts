export { describeConformance } from './suite.js';
export { snapshot, listKeys, putText, text, type ConformanceContext, type ConformanceFactory, type ConformanceOptions, type Feature } from './context.js';
export { FaultPlan, FaultyBackend, faultyFs, errnoError, type FaultKind } from './faults.js';
export { describeFaultMatrix, contentOfBytes, fill, buildFixture, API_OPERATIONS, FOREIGN, type Content, type FaultLevel, type FaultOp, type FaultStore } from './fault-matrix.js';
export { describeBackend, type BackendContext, type BackendFactory, type BackendSuiteOptions } from './backend-suite.js';
