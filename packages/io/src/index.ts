export * from './errors.js';
export * from './ndarray.js';
export * from './source.js';
export * from './npy.js';
export * from './npz.js';
export * from './ply.js';
export * from './geometry.js';
export * from './image.js';
