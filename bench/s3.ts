/** The s3db bench target: the patched s3rver the tests use, in this process. */
import { randomBytes } from 'node:crypto';
import { RomiDB } from '@romi/db-core';
import { S3DB } from '@romi/s3db';
import { startS3rver } from '@romi/test-utils';

export async function s3Target() {
  const server = await startS3rver();
  const bucket = await server.bucket('romidb-bench');
  const options = (prefix: string) => ({
    bucket,
    prefix,
    endpoint: server.endpoint,
    region: server.region,
    credentials: server.credentials,
    forcePathStyle: true as const,
  });
  return {
    name: 's3db',
    fresh: async () => {
      const prefix = `run-${randomBytes(4).toString('hex')}`;
      const db = await S3DB.init(options(prefix));
      const raw = new S3DB(options(`${prefix}-raw`)).backend;
      return {
        db: db as RomiDB,
        open: () => new S3DB(options(prefix)) as RomiDB,
        raw: {
          put: async (key: string, data: Uint8Array) => {
            await raw.put(key, data);
          },
          get: async (key: string) => (await raw.get(key)).bytes,
          listRoot: async () => {
            let n = 0;
            for await (const _ of db.backend.list('', { delimiter: '/' })) n++;
            return n;
          },
        },
        dispose: async () => {},
      };
    },
    close: () => server.close(),
  };
}
