// Writes files and metadata in a loop, reporting each write only once its promise resolved:
//   ok <kind> <fileset> <id> <length>
// The crash test SIGKILLs it at random moments and checks that every reported write survived.
import { isRomiError } from '@romi/db-core';
import { FSDB } from '@romi/fsdb';
import { contentOf } from './content.js';

const [path, run] = process.argv.slice(2) as [string, string];

const db = new FSDB(path);
try {
  await db.connect({ waitMs: 30_000 });
} catch (err) {
  console.log(`busy ${isRomiError(err) ? err.code : String(err)}`);
  process.exit(1);
}
const scan = (await db.hasScan('crash')) ? await db.getScan('crash') : await db.createScan('crash');
const fs = (await scan.hasFileset('data')) ? await scan.getFileset('data') : await scan.createFileset('data');
console.log('ready');
for (let i = 0; ; i++) {
  const id = `r${run}_${i}`;
  const length = 1 + ((i * 7919) % 200_000);
  if (i % 10 === 9) {
    const batch = Array.from({ length: 5 }, (_, j) => ({ id: `${id}_b${j}`, data: contentOf(`${id}_b${j}`, 1000 + j), ext: 'bin', metadata: { batch: i, j } }));
    await fs.createFiles(batch, { concurrency: 3 });
    for (const b of batch) console.log(`ok file data ${b.id} ${b.data.length}`);
    continue;
  }
  const file = await fs.createFile(id, { metadata: { i } });
  await file.writeBytes(contentOf(id, length), 'bin');
  console.log(`ok file data ${id} ${length}`);
  await file.setMetadata({ written: true, length });
  console.log(`ok meta data ${id} ${length}`);
  await scan.setMetadata(`last_${run}`, i);
  console.log(`ok scanmeta - last_${run} ${i}`);
  if (i % 7 === 3) {
    const victim = `r${run}_${i - 1}`;
    if (await fs.hasFile(victim)) {
      console.log(`start delete data ${victim} 0`);
      await fs.deleteFile(victim);
      console.log(`ok delete data ${victim} 0`);
    }
  }
}
