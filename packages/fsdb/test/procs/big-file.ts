// Writes a file of the given size through writeStream and reads it back through readStream,
// hashing both ways; prints "ok <sha1 written> <sha1 read> <bytes> <peak rss MB>".
import { createHash } from 'node:crypto';
import { FSDB } from '@romi/fsdb';

const [path, sizeText] = process.argv.slice(2) as [string, string];
const size = Number(sizeText);
let peak = 0;
const sample = setInterval(() => {
  peak = Math.max(peak, process.memoryUsage().rss);
}, 20);

const db = new FSDB(path);
await db.connect();
const fs = await (await db.createScan('big')).createFileset('data');
const file = await fs.createFile('blob');

const chunk = new Uint8Array(4 << 20);
const written = createHash('sha1');
async function* source(): AsyncIterable<Uint8Array> {
  for (let sent = 0, n = 0; sent < size; n++) {
    const part = chunk.subarray(0, Math.min(chunk.length, size - sent));
    part.fill(n & 255);
    part[0] = (n >> 8) & 255;
    written.update(part);
    sent += part.length;
    yield part;
  }
}
await file.writeStream(source(), 'bin');
const read = createHash('sha1');
let total = 0;
for await (const part of file.readStream() as unknown as AsyncIterable<Uint8Array>) {
  read.update(part);
  total += part.length;
}
peak = Math.max(peak, process.memoryUsage().rss);
clearInterval(sample);
await db.disconnect();
console.log(`ok ${written.digest('hex')} ${read.digest('hex')} ${total} ${Math.round(peak / 2 ** 20)}`);
