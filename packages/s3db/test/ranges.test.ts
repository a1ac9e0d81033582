// What S3Backend asks of S3 for a byte range (the contract itself is in the Backend suite): a GET
// with `Range: bytes=a-b`, so that only those bytes travel; a range holding no byte of the object
// ends in a HEAD, not in a 416 error. On s3rver, and on radosgw when configured.
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { toKey, type ByteRange } from '@romi/db-core';
import { s3Targets, type S3TestServer } from '@romi/test-utils';
import { S3Backend } from '../src/index.js';
import { clientFor, dbOptions, randomPrefix } from './helpers.js';

const MiB = 1024 * 1024;

for (const target of s3Targets()) {
  describe(`S3Backend byte ranges on ${target.kind}`, { timeout: 60_000 }, () => {
    let server: S3TestServer;
    let client: S3Client;
    let bucket: string;
    /** Each request: "<command> <Range header> → <Content-Length or HTTP status>". */
    const requests: string[] = [];
    beforeAll(async () => {
      server = await target.start();
      bucket = await server.bucket();
      client = clientFor(server);
      client.middlewareStack.add(
        (next, context) => async (args) => {
          const range = (args.input as { Range?: string }).Range ?? '';
          const line = `${context.commandName} ${range}`.trim();
          try {
            const result = await next(args);
            requests.push(`${line} → ${(result.output as { ContentLength?: number }).ContentLength}`);
            return result;
          } catch (err) {
            requests.push(`${line} → ${(err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode}`);
            throw err;
          }
        },
        { step: 'initialize', name: 'romiRecordRequests' },
      );
    });
    afterAll(async () => {
      client?.destroy();
      await server?.close();
    });
    beforeEach(() => {
      requests.length = 0;
    });

    /** The requests one getStream of `range` makes, once its stream is read to the end. */
    async function requestsOf(backend: S3Backend, range: ByteRange | undefined): Promise<string[]> {
      requests.length = 0;
      const { stream } = await backend.getStream(toKey('x.bin'), range ? { range } : {});
      for await (const _ of stream as unknown as AsyncIterable<Uint8Array>) {
        // read it all
      }
      return requests.splice(0);
    }

    it('asks for the bytes of the range only, and makes an empty range a HEAD', async () => {
      const backend = new S3Backend(dbOptions(server, bucket, randomPrefix(), {}, client));
      await backend.put(toKey('x.bin'), new Uint8Array(MiB));
      expect(await requestsOf(backend, undefined)).toEqual([`GetObjectCommand → ${MiB}`]);
      expect(await requestsOf(backend, { start: 0 })).toEqual([`GetObjectCommand → ${MiB}`]);
      expect(await requestsOf(backend, { start: 1000, end: 1010 })).toEqual(['GetObjectCommand bytes=1000-1009 → 10']);
      expect(await requestsOf(backend, { start: MiB - 3 })).toEqual([`GetObjectCommand bytes=${MiB - 3}- → 3`]);
      expect(await requestsOf(backend, { start: MiB - 3, end: 2 * MiB })).toEqual([`GetObjectCommand bytes=${MiB - 3}-${2 * MiB - 1} → 3`]);
      expect(await requestsOf(backend, { start: 5, end: 5 })).toEqual([`HeadObjectCommand → ${MiB}`]);
      // Past the end, S3 answers 416 InvalidRange: a HEAD then tells the size and etag.
      expect(await requestsOf(backend, { start: MiB })).toEqual([`GetObjectCommand bytes=${MiB}- → 416`, `HeadObjectCommand → ${MiB}`]);
    });
  });
}
