// Database locations that carry a secret, for the tests that no error ever shows one (issue 10,
// finding 15). Shared by the s3db tests and the CLI tests of the built binary.
import { inspect } from 'node:util';

/**
 * Every piece of every secret holds this mark, so that a piece printed on its own is caught
 * too, in any case (URL parsers lowercase hosts) and any encoding (escapes leave letters alone).
 */
const MARK = 'qzxj';

/** Passwords holding what ends a user info, a path, a query or an escape: raw, escaped, doubled. */
export const HOSTILE_PASSWORDS = [
  'qzxjA/qzxjB',
  'qzxjA?qzxjB',
  'qzxjA#qzxjB',
  'qzxjA@qzxjB',
  'qzxjA:qzxjB',
  'qzxjA%qzxjB',
  'qzxjA%23qzxjB',
  'qzxjA%2FqzxjB',
  'qzxjA%40qzxjB',
  '%2523qzxjA',
  'qzxjA qzxjB',
  'qzxjAé✓ℚ𝕫qzxjB',
  'qzxjA&qzxjB=qzxjC',
  // A URL parser reads "user:1234/…" as a host and a port: no user info at all.
  '1234/qzxjA',
  '1?qzxjA',
  'qzxjA/qzxjB?qzxjC#qzxjD@qzxjE:qzxjF%23qzxjG%2FqzxjH qzxjIé%qzxjJ',
];

const SECRET_PARAMS = ['secretAccessKey', 'token', 'Password', 'X-Amz-Signature', 'AWS_SECRET_ACCESS_KEY', 'credential', 'KEY', 'x-amz-security-token'];

/** Every way a user may have put `password` into a database location, labelled. */
export function hostileLocations(password: string, index = 0): Array<[string, string]> {
  const enc = encodeURIComponent(password);
  const param = SECRET_PARAMS[index % SECRET_PARAMS.length]!;
  const endpoint = (pw: string) => `https://qzxjuser:${pw}@s3.example.org`;
  return [
    ['raw endpoint', `s3://romi-bucket/db?endpoint=${endpoint(password)}&region=us-east-1`],
    ['endpoint with an escaped password', `s3://romi-bucket/db?endpoint=${endpoint(enc)}`],
    ['escaped endpoint', `s3://romi-bucket/db?region=us-east-1&endpoint=${encodeURIComponent(endpoint(enc))}`],
    ['escaped endpoint, raw password', `s3://romi-bucket/db?endpoint=${encodeURIComponent(endpoint(password))}&forcePathStyle=true`],
    ['user info', `s3://qzxjuser:${password}@romi-bucket/db`],
    ['escaped user info', `s3://qzxjuser:${enc}@romi-bucket/db?region=us-east-1`],
    [`raw ${param}=`, `s3://romi-bucket/db?region=us-east-1&${param}=${password}`],
    [`escaped ${param}=`, `s3://romi-bucket/db?${param}=${enc}&region=us-east-1`],
    ['endpoint and token', `s3://romi-bucket/db?endpoint=${endpoint(password)}&token=${password}`],
    ['unknown scheme', `https://qzxjuser:${password}@host.example.org/db`],
    ['file: URL', `file://qzxjuser:${password}@localhost/tmp/db`],
    ['unparseable', `s3://qzxjuser:${password}@[romi-bucket/db`],
    ['no slashes', `s3:qzxjuser:${password}@romi-bucket/db`],
  ];
}

/** The forms of a secret that must never be shown: itself, escaped, and the mark of its pieces. */
export function leaks(text: string, secret: string): string[] {
  const found: string[] = [];
  for (const form of [secret, encodeURIComponent(secret), encodeURI(secret)]) if (text.includes(form)) found.push(form);
  const at = text.toLowerCase().indexOf(MARK);
  if (at >= 0) found.push(`…${text.slice(Math.max(0, at - 40), at + 40)}…`);
  return found;
}

/** Every way an error can be shown or logged: message, stack, cause chain, JSON, inspect(). */
export function everyRendering(err: unknown): string {
  const parts = [String(err), inspect(err, { depth: 10, showHidden: true })];
  for (let e = err as (Error & { cause?: unknown }) | undefined, depth = 0; e && depth < 10; e = e.cause as typeof e, depth++) {
    parts.push(String(e.message), String(e.stack), JSON.stringify(e, typeof e === 'object' ? Object.getOwnPropertyNames(e) : undefined) ?? '');
  }
  return parts.join('\n');
}
