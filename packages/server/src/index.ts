/**
 * @romi/server: plantdb 0.15's REST API (the reading side, with the webcache) over any romidb
 * database: a local folder, memory or S3. See README.md for the routes and where they differ
 * from plantdb.
 */
export { createServer, VERSION, type ServerOptions } from './server.js';
export type { WriteOptions } from './routes/write.js';
export { DEFAULT_RATE_LIMITS, type RateLimitGroup } from './context.js';
export { buildScanInfo, plantdbScanMetadata, type ScanInfo, type Pose } from './scan-info.js';
export { webcacheName, type WebcacheOptions } from './webcache.js';
export {
  AccountStore,
  AccountLockedError,
  InvalidCredentialsError,
  checkUsername,
  ROLES,
  type Account,
  type AccountStoreOptions,
  type Role,
} from './auth/users.js';
export type { Group } from './auth/groups.js';
export { loadSecret, createSecretFile, InvalidTokenError, TokenService, type TokenServiceOptions } from './auth/tokens.js';
export type { HashParams } from './auth/passwords.js';
