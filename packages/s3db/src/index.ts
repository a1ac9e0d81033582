// Node is where this backend runs: File.importFile reads local files through the core's Node entry.
import '@romi/db-core/node';
import { registerScheme } from '@romi/db-core';
import { parseS3Url, S3DB } from './s3db.js';

export { S3DB, parseS3Url, type S3DBOptions } from './s3db.js';
export { S3Backend, createS3Client, s3Url, unquoteEtag, type S3BackendOptions, type S3Credentials } from './s3-backend.js';
export { S3ErrorInfo } from './errors.js';
export { type LeaseBody } from '@romi/db-core';

registerScheme('s3:', (url) => new S3DB(parseS3Url(url)));
