// Connects to a database as the writer and holds the lock until stdin closes.
// Prints "connected <pid>" or "busy <code>".
import { isRomiError } from '@romi/db-core';
import { FSDB } from '@romi/fsdb';

const [path, waitMs = '0', writes = '0'] = process.argv.slice(2);
const db = new FSDB(path!, { lockStaleMs: 5_000 });
try {
  await db.connect({ waitMs: Number(waitMs) });
} catch (err) {
  console.log(`busy ${isRomiError(err) ? err.code : String(err)}`);
  process.exit(0);
}
console.log(`connected ${process.pid}`);
if (Number(writes) > 0) {
  // Keep writing so that a lost lock shows up as a failed write.
  const scan = (await db.hasScan('held')) ? await db.getScan('held') : await db.createScan('held');
  for (let i = 0; ; i++) {
    try {
      await scan.setMetadata('tick', i);
      console.log(`wrote ${i}`);
    } catch (err) {
      console.log(`write-failed ${isRomiError(err) ? err.code : String(err)}`);
      break;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
process.stdin.resume();
process.stdin.on('end', async () => {
  await db.disconnect();
  console.log('released');
  process.exit(0);
});
