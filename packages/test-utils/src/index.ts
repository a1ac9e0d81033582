export { spawnProc, type Proc, type SpawnOptions } from './spawn.js';
export { BIG_FILE } from './procs.js';
export { radosgwFromEnv, randomBucketName, s3Targets, startS3rver, suiteS3Targets, type S3TestServer } from './s3-servers.js';
export { everyRendering, HOSTILE_PASSWORDS, hostileLocations, leaks } from './hostile-locations.js';
