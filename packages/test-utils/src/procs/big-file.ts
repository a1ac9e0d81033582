// Writes a file of the given size through writeStream and reads it back through readStream,
// hashing both ways; prints "ok <sha1 written> <sha1 read> <bytes> <peak rss MB> <write ms> <read ms>
// <rss MB at start> <peak rss MB while writing>".
// argv: <database location: a path or URL> <size>. The backend package of the location is loaded
// by the caller (spawnProc's `imports`); S3 credentials come from the AWS environment.
import { createHash } from 'node:crypto';
import { openDB } from '@romi/db-core';

const [location, sizeText] = process.argv.slice(2) as [string, string];
const size = Number(sizeText);
let peak = 0;
const sample = setInterval(() => {
  peak = Math.max(peak, process.memoryUsage().rss);
}, 10);
const baseline = process.memoryUsage().rss;

const db = await openDB(location);
const fs = await (await db.createScan('big')).createFileset('data');
const file = await fs.createFile('blob');

const CHUNK = 1 << 20;
const written = createHash('sha1');
async function* source(): AsyncIterable<Uint8Array> {
  for (let sent = 0, n = 0; sent < size; n++) {
    // A fresh buffer per chunk: an uploader may still hold the previous ones.
    const part = new Uint8Array(Math.min(CHUNK, size - sent));
    part.fill(n & 255);
    part[0] = (n >> 8) & 255;
    written.update(part);
    sent += part.length;
    yield part;
  }
}
const t0 = performance.now();
await file.writeStream(source(), 'bin');
const t1 = performance.now();
const writePeak = Math.max(peak, process.memoryUsage().rss);
const read = createHash('sha1');
let total = 0;
for await (const part of file.readStream() as unknown as AsyncIterable<Uint8Array>) {
  read.update(part);
  total += part.length;
}
const t2 = performance.now();
peak = Math.max(peak, process.memoryUsage().rss);
clearInterval(sample);
await db.disconnect();
const mb = (n: number): number => Math.round(n / 2 ** 20);
console.log(`ok ${written.digest('hex')} ${read.digest('hex')} ${total} ${mb(peak)} ${Math.round(t1 - t0)} ${Math.round(t2 - t1)} ${mb(baseline)} ${mb(writePeak)}`);
// Keep-alive sockets of an S3 client would keep the process alive.
process.exit(0);
