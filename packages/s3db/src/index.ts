// Node is where this backend runs: File.importFile reads local files through the core's Node entry.
import '@romi/db-core/node';
import { MARKER_KEY, registerScheme } from '@romi/db-core';
import { parseS3Url, S3DB } from './s3db.js';

export { S3DB, parseS3Url, type S3DBOptions } from './s3db.js';
export { S3Backend, createS3Client, s3Url, unquoteEtag, type S3BackendOptions, type S3Credentials } from './s3-backend.js';
export { S3ErrorInfo } from './errors.js';
export { type LeaseBody } from '@romi/db-core';

registerScheme('s3:', {
  open: (url) => new S3DB(parseS3Url(url)),
  init: async (url, opts) => {
    // Credentials come from the AWS environment, never from the URL.
    const db = new S3DB(parseS3Url(url));
    const existed = (await db.backend.head(MARKER_KEY, opts)) !== undefined;
    if (!existed) await db.backend.writeMarker(MARKER_KEY, opts);
    return { db, created: !existed };
  },
});
