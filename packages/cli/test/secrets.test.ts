// The built binary never prints a secret that a user put into a database location (--db, ROMIDB,
// mirror's source or destination) or into the AWS environment, whatever characters it holds, raw
// or percent-encoded: not on stdout, not on stderr, not under --json, not in --debug stacks
// (issue 10, finding 15). Malformed percent-encoding is a usage error (exit 2).
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOSTILE_PASSWORDS, hostileLocations, leaks, startS3rver, type S3TestServer } from '@romi/test-utils';
import { redactLocation } from '../src/context.js';
import { cli, tempDir, type RunResult } from './helpers.js';

let server: S3TestServer;
let run: Awaited<ReturnType<typeof cli>>['run'];
let local: string;

beforeAll(async () => {
  server = await startS3rver();
  ({ run } = await cli());
  local = join(await tempDir(), 'db');
  expect((await run(['--db', local, 'init'])).code).toBe(0);
});

afterAll(async () => {
  await server?.close();
});

type Entry = (location: string) => { args: string[]; env?: Record<string, string> };

/** Every way a location reaches the binary. */
const ENTRIES: Array<[string, Entry]> = [
  ['--db', (location) => ({ args: ['--db', location, 'ls'] })],
  ['ROMIDB', (location) => ({ args: ['ls'], env: { ROMIDB: location } })],
  ['mirror source', (location) => ({ args: ['mirror', location, local] })],
  ['mirror destination', (location) => ({ args: ['mirror', '--init', local, location] })],
];
const FLAGS = [[], ['--json'], ['--debug'], ['--json', '--debug']];

/** Runs `jobs` two at a time (the machine has two cores). */
async function inPairs<T>(jobs: Array<() => Promise<T>>): Promise<T[]> {
  const results: T[] = [];
  for (let i = 0; i < jobs.length; i += 2) results.push(...(await Promise.all(jobs.slice(i, i + 2).map((job) => job()))));
  return results;
}

/** What is wrong with a run that had to fail with `code`: a secret shown, another exit code, not one error line. */
function problemsOf(label: string, secret: string, r: RunResult, code: number, flags: string[]): string[] {
  const out: string[] = [];
  const shown = leaks(`${r.out}\n${r.err}`, secret);
  if (shown.length > 0) out.push(`${label}: shows ${shown.join(' | ')}`);
  if (r.code !== code) out.push(`${label}: exit ${r.code} instead of ${code}: ${r.err}`);
  const first = r.err.split('\n')[0]!;
  if (flags.includes('--json')) {
    if (!first.startsWith('{"error":{')) out.push(`${label}: not a JSON error: ${first}`);
    else if (code === 2 && (JSON.parse(first) as { error: { code: string } }).error.code !== 'USAGE') out.push(`${label}: not a USAGE error: ${first}`);
  } else if (!first.startsWith('romidb: ')) {
    out.push(`${label}: not a romidb: line: ${first}`);
  }
  return out;
}

describe('redactLocation', () => {
  it('masks every secret of every hostile location, and keeps what holds none', () => {
    const problems: string[] = [];
    for (const [i, password] of HOSTILE_PASSWORDS.entries()) {
      for (const [form, location] of hostileLocations(password, i)) {
        const shown = leaks(redactLocation(location), password);
        if (shown.length > 0) problems.push(`${form} ${JSON.stringify(password)}: ${shown.join(' | ')}`);
      }
    }
    expect(problems).toEqual([]);
    const endpoint = 's3://bkt/db?endpoint=http%3A%2F%2F127.0.0.1%3A7480&region=us-east-1';
    expect(redactLocation(`${endpoint}&secretAccessKey=hunter2`)).toBe(`${endpoint}&secretAccessKey=***`);
    expect(redactLocation('s3://bkt/db?endpoint=https%3A%2F%2Fuser%3Apass%40s3.example.org')).toBe('s3://bkt/db?endpoint=https%3A%2F%2F***%40s3.example.org');
    expect(redactLocation('s3://bkt/db?endpoint=https://user:p@ss/w?rd#x@s3.example.org')).toBe('s3://***@s3.example.org');
    expect(redactLocation('s3://bkt/db?token=p&ss&region=x')).toBe('s3://bkt/db?token=***');
    for (const kept of [endpoint, '/data/db@v2', './db', 'file:///data/db', 'memory://scratch']) expect(redactLocation(kept)).toBe(kept);
  });
});

describe('a location holding a secret', () => {
  // Two runs per password; the forms, the entries and the flags take turns, so that every entry
  // meets every set of flags twice. (redactLocation above sees every form of every password.)
  for (const [i, password] of HOSTILE_PASSWORDS.entries()) {
    it(`is a usage error that never shows ${JSON.stringify(password)}`, async () => {
      const locations = hostileLocations(password, i);
      const jobs = [2 * i, 2 * i + 1].map((turn) => async () => {
        const [form, location] = locations[turn % locations.length]!;
        const [entryName, entry] = ENTRIES[turn % ENTRIES.length]!;
        const flags = FLAGS[Math.floor(turn / ENTRIES.length) % FLAGS.length]!;
        const { args, env } = entry(location);
        const r = await run([...flags, ...args], { env });
        return problemsOf(`${form} via ${entryName} ${flags.join(' ')}`, password, r, 2, flags);
      });
      expect((await inPairs(jobs)).flat()).toEqual([]);
    });
  }
});

describe('credentials in the AWS environment', () => {
  it('wrong ones, and an unreachable endpoint, fail with exit 1 and are never shown', async () => {
    const bucket = await server.bucket();
    const s3rver = `s3://${bucket}/db?endpoint=${encodeURIComponent(server.endpoint)}&region=${server.region}&forcePathStyle=true`;
    const unreachable = `s3://${bucket}/db?endpoint=${encodeURIComponent('http://127.0.0.1:9')}&region=us-east-1&forcePathStyle=true`;
    const jobs = HOSTILE_PASSWORDS.filter((_, i) => i % 4 === 0).flatMap((password, i) => {
      const env = { AWS_ACCESS_KEY_ID: `qzxjKEY${password}`, AWS_SECRET_ACCESS_KEY: password };
      return [s3rver, unreachable].map((location, j) => async () => {
        const [entryName, entry] = ENTRIES[(i + j) % ENTRIES.length]!;
        const flags = FLAGS[(i + 2 * j) % FLAGS.length]!;
        const { args, env: more } = entry(location);
        const r = await run([...flags, ...args], { env: { ...env, ...more } });
        return problemsOf(`${location === s3rver ? 's3rver' : 'unreachable'} via ${entryName} ${flags.join(' ')}`, password, r, 1, flags);
      });
    });
    expect((await inPairs(jobs)).flat()).toEqual([]);
  });
});

describe('malformed percent-encoding', () => {
  it('is a usage error, exit 2', async () => {
    for (const location of ['s3://a%zz/x', 's3://romi-bucket/db%C3%28', 'file:///tmp/a%zz', 'memory://a%zz']) {
      const r = await run(['--db', location, 'ls']);
      expect(r.code, location).toBe(2);
      expect(r.err, location).toMatch(/^romidb: invalid database location "[^"]*": Malformed percent-encoding[^\n]*\n$/);
    }
  });
});
