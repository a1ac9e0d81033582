// A writer that never stops (until killed): creates files with data and metadata in scan "s",
// and deletes every third one soon after, so that copies taken beside it race with both.
// Usage: node busy-writer.mjs <database folder>. Prints "ready" once 60 files exist.
import { FSDB } from '@romi/fsdb';

const db = new FSDB(process.argv[2]);
await db.connect({ waitMs: 10_000 });
const scan = (await db.hasScan('s')) ? await db.getScan('s') : await db.createScan('s', { metadata: { busy: true } });
const fileset = (await scan.hasFileset('fs')) ? await scan.getFileset('fs') : await scan.createFileset('fs');
const data = new Uint8Array(4096).fill(7);
let stopping = false;
process.on('SIGTERM', () => {
  stopping = true;
});
for (let i = 0; !stopping; i++) {
  const file = await fileset.createFile(`f${i}`, { metadata: { i } });
  await file.writeBytes(data, 'bin');
  if (i % 3 === 2) await fileset.deleteFile(`f${i - 1}`);
  if (i === 60) console.log('ready');
}
await db.disconnect();
