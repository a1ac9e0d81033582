// No error shows a secret that a user put into a database location or into the options,
// whatever characters it holds, raw or percent-encoded (issue 10, finding 15): not the message,
// the cause chain, the stack, JSON.stringify or inspect(). And malformed percent-encoding is a
// typed error, never a raw URIError.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes, isRomiError, openDB, parseDatabaseUrl } from '@romi/db-core';
import { parseS3Url, S3Backend, S3DB, type S3DBOptions } from '../src/index.js';
import { codeOf } from './helpers.js';
import { everyRendering, HOSTILE_PASSWORDS, hostileLocations, leaks, startS3rver, type S3TestServer } from '@romi/test-utils';

/** What is wrong with the outcome of `attempt`: it must throw a typed error that shows no secret. */
async function problemsOf(label: string, secret: string, attempt: () => unknown, code?: string): Promise<string[]> {
  let err: unknown;
  try {
    const made = await attempt();
    const url = (made as { url?: string } | undefined)?.url ?? '';
    await (made as { close?: () => Promise<void> } | undefined)?.close?.();
    return [`${label}: accepted${leaks(url, secret).length > 0 ? `, and its url shows ${leaks(url, secret).join(' | ')}` : ''}`];
  } catch (e) {
    err = e;
  }
  const out: string[] = [];
  if (!isRomiError(err)) out.push(`${label}: untyped ${String(err)}`);
  else if (code !== undefined && err.code !== code) out.push(`${label}: ${err.code} instead of ${code}`);
  const shown = leaks(everyRendering(err), secret);
  if (shown.length > 0) out.push(`${label}: shows ${shown.join(' | ')}`);
  return out;
}

describe('locations holding a secret', () => {
  it('are refused by openDB and parseS3Url with typed errors that show no part of it', async () => {
    const problems: string[] = [];
    let cases = 0;
    for (const [i, password] of HOSTILE_PASSWORDS.entries()) {
      for (const [form, location] of hostileLocations(password, i)) {
        const label = `${form} ${JSON.stringify(password)}`;
        const s3 = location.startsWith('s3:');
        problems.push(...(await problemsOf(`openDB ${label}`, password, () => openDB(location, { connect: false }), s3 ? ErrorCodes.INVALID_ARGUMENT : undefined)));
        if (s3) {
          problems.push(...(await problemsOf(`parseS3Url ${label}`, password, () => new S3DB(parseS3Url(location)), ErrorCodes.INVALID_ARGUMENT)));
          if (URL.canParse(location)) problems.push(...(await problemsOf(`parseS3Url(URL) ${label}`, password, () => new S3DB(parseS3Url(new URL(location))), ErrorCodes.INVALID_ARGUMENT)));
        }
        cases++;
      }
    }
    expect(problems).toEqual([]);
    expect(cases).toBeGreaterThan(200);
  });

  it('are refused as endpoints in the options (new S3DB, init, forceUnlock, new S3Backend), showing no part of them', async () => {
    const problems: string[] = [];
    for (const password of HOSTILE_PASSWORDS) {
      const enc = encodeURIComponent(password);
      const endpoints = [
        `https://qzxjuser:${password}@s3.example.org`,
        `https://qzxjuser:${enc}@s3.example.org`,
        `http://qzxjuser:${enc}@127.0.0.1:9/`,
        `https://s3.example.org/?X-Amz-Security-Token=${enc}`,
        `https://s3.example.org/#${password}`,
      ];
      for (const endpoint of endpoints) {
        const opts: S3DBOptions = { bucket: 'romi-bucket', prefix: 'db', endpoint, region: 'us-east-1' };
        const label = `endpoint ${JSON.stringify(endpoint)}`;
        problems.push(...(await problemsOf(`new S3DB ${label}`, password, () => new S3DB(opts), ErrorCodes.INVALID_ARGUMENT)));
        problems.push(...(await problemsOf(`S3DB.init ${label}`, password, () => S3DB.init(opts), ErrorCodes.INVALID_ARGUMENT)));
        problems.push(...(await problemsOf(`S3DB.forceUnlock ${label}`, password, () => S3DB.forceUnlock(opts), ErrorCodes.INVALID_ARGUMENT)));
        problems.push(...(await problemsOf(`new S3Backend ${label}`, password, () => new S3Backend(opts), ErrorCodes.INVALID_ARGUMENT)));
      }
    }
    expect(problems).toEqual([]);
  });
});

describe('credentials holding any character', () => {
  let server: S3TestServer;
  let bucket: string;

  beforeAll(async () => {
    server = await startS3rver();
    bucket = await server.bucket();
  });

  afterAll(async () => {
    await server?.close();
  });

  /** Connects, initialises and force-unlocks with these options: each must fail, typed, showing no secret. */
  async function failures(label: string, secret: string, opts: S3DBOptions): Promise<string[]> {
    const out: string[] = [];
    const db = new S3DB(opts);
    try {
      out.push(...(await problemsOf(`${label} connect`, secret, () => db.connect().then(() => undefined), ErrorCodes.STORAGE)));
    } finally {
      await db.close();
    }
    out.push(...(await problemsOf(`${label} init`, secret, () => S3DB.init(opts), ErrorCodes.STORAGE)));
    out.push(...(await problemsOf(`${label} forceUnlock`, secret, () => S3DB.forceUnlock(opts), ErrorCodes.STORAGE)));
    return out;
  }

  it('a wrong key and secret, and an unreachable endpoint, fail typed and show neither', async () => {
    const problems: string[] = [];
    for (const [i, password] of HOSTILE_PASSWORDS.entries()) {
      const credentials = { accessKeyId: `qzxjKEY${password}`, secretAccessKey: password };
      const s3rver = { bucket, prefix: 'db', endpoint: server.endpoint, region: server.region, forcePathStyle: true, credentials };
      problems.push(...(await failures(`wrong credentials ${JSON.stringify(password)}`, password, s3rver)));
      // Each refused connection is retried with backoff: a few passwords suffice there.
      if (i % 4 === 0) problems.push(...(await failures(`unreachable ${JSON.stringify(password)}`, password, { ...s3rver, endpoint: 'http://127.0.0.1:9' })));
    }
    expect(problems).toEqual([]);
  });

  it('credentials from the AWS environment, with an s3:// URL, fail typed and show neither', async () => {
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
    const problems: string[] = [];
    try {
      for (const password of HOSTILE_PASSWORDS) {
        process.env.AWS_ACCESS_KEY_ID = `qzxjKEY${password}`;
        process.env.AWS_SECRET_ACCESS_KEY = password;
        const url = `s3://${bucket}/db?endpoint=${encodeURIComponent(server.endpoint)}&region=${server.region}&forcePathStyle=true`;
        problems.push(...(await problemsOf(`openDB with AWS_SECRET_ACCESS_KEY=${JSON.stringify(password)}`, password, () => openDB(url), ErrorCodes.STORAGE)));
      }
    } finally {
      for (const [name, value] of [['AWS_ACCESS_KEY_ID', saved.id], ['AWS_SECRET_ACCESS_KEY', saved.secret]] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
    expect(problems).toEqual([]);
  });
});

describe('malformed percent-encoding', () => {
  it('is ROMI_INVALID_ARGUMENT, never a raw URIError', async () => {
    const locations = ['s3://a%zz/x', 's3://romi-bucket/a%zz', 's3://romi-bucket/db%C3%28', 's3://romi-bucket/db%E0', 'file:///tmp/a%zz', 'memory://a%zz', 's3://romi-bucket/db?region=us%zz'];
    for (const location of locations) {
      expect(await codeOf(openDB(location, { connect: false })), location).toBe(ErrorCodes.INVALID_ARGUMENT);
      expect(await codeOf(() => parseDatabaseUrl(location)), location).toBe(ErrorCodes.INVALID_ARGUMENT);
    }
    // A URL object skips parseDatabaseUrl: parseS3Url decodes the bucket and prefix itself.
    for (const location of ['s3://a%zz/x', 's3://romi-bucket/a%zz', 's3://romi-bucket/db%C3%28']) {
      expect(await codeOf(() => parseS3Url(new URL(location))), location).toBe(ErrorCodes.INVALID_ARGUMENT);
      expect(await codeOf(openDB(new URL(location), { connect: false })), location).toBe(ErrorCodes.INVALID_ARGUMENT);
    }
  });
});
