// Rewrites files.json and metadata thousands of times; prints "done <n>".
import { FSDB } from '@romi/fsdb';

const [path, count] = process.argv.slice(2) as [string, string];
const db = new FSDB(path);
await db.connect({ waitMs: 10_000 });
const scan = await db.createScan('busy');
const fs = await scan.createFileset('fs');
console.log('ready');
let n = 0;
for (let i = 0; i < Number(count); i++) {
  const f = await fs.createFile(`f${i}`);
  await f.writeText(`content ${i}`, 'txt');
  await scan.setMetadata({ i, big: 'x'.repeat(i % 5000) });
  await fs.setMetadata('i', i);
  if (i % 3 === 0) await fs.deleteFile(`f${i}`);
  n += 5;
}
await db.disconnect();
console.log(`done ${n}`);
