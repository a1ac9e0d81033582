// A romidb writer process on S3, driven by stdin lines:
//   go       → connect as the writer (waitMs from argv[3]); prints "connected <pid>" or "busy <code>"
//   release  → disconnect; prints "released"
//   write    → keeps calling setMetadata('tick', i) on scan "held" every 100 ms, printing
//              "wrote <i>" after each, until one fails: "write-failed <code>"
//   exit     → disconnects and exits
// argv: <s3:// URL> [waitMs]. Credentials come from the AWS environment (default chain).
import { createInterface } from 'node:readline';
import { isRomiError, openDB, type DB } from '@romi/db-core';
import '@romi/s3db';

const [url, waitMs = '0'] = process.argv.slice(2) as [string, string?];
const db: DB = await openDB(url, { connect: false });
console.log('ready');

const codeOf = (err: unknown): string => (isRomiError(err) ? err.code : `${(err as Error)?.name}: ${(err as Error)?.message}`);

async function writeLoop(): Promise<void> {
  const scan = (await db.hasScan('held')) ? await db.getScan('held') : await db.createScan('held');
  for (let i = 0; ; i++) {
    try {
      await scan.setMetadata('tick', i);
      console.log(`wrote ${i}`);
    } catch (err) {
      console.log(`write-failed ${codeOf(err)}`);
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

for await (const line of createInterface({ input: process.stdin })) {
  if (line === 'go') {
    try {
      await db.connect({ waitMs: Number(waitMs) });
      console.log(`connected ${process.pid}`);
    } catch (err) {
      console.log(`busy ${codeOf(err)}`);
    }
  } else if (line === 'release') {
    await db.disconnect();
    console.log('released');
  } else if (line === 'write') {
    void writeLoop();
  } else if (line === 'exit') {
    break;
  }
}
await db.disconnect().catch(() => {});
process.exit(0);
