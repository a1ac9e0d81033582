// Reads files.json and the metadata JSONs of a scan raw, and through a read-only connection
// with reload(), as fast as it can for a while; prints "reads <n> bad <n>" at the end.
import { readFileSync } from 'node:fs';
import { isRomiError } from '@romi/db-core';
import { FSDB } from '@romi/fsdb';

const [path, ms] = process.argv.slice(2) as [string, string];
const until = Date.now() + Number(ms);
const db = new FSDB(path);
await db.connect({ readOnly: true });
let reads = 0;
let bad = 0;
const problems: string[] = [];
for (let i = 0; Date.now() < until; i++) {
  for (const rel of ['busy/files.json', 'busy/metadata/metadata.json', 'busy/metadata/fs.json']) {
    try {
      JSON.parse(readFileSync(`${path}/${rel}`, 'utf8'));
      reads++;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      bad++;
      if (problems.length < 5) problems.push(`${rel}: ${(err as Error).message}`);
    }
  }
  if (i % 20 === 0) {
    try {
      await db.reload();
      if (await db.hasScan('busy')) {
        const scan = await db.getScan('busy');
        await scan.getMetadata();
        if (await scan.hasFileset('fs')) await (await scan.getFileset('fs')).listFiles();
        reads++;
      }
    } catch (err) {
      bad++;
      if (problems.length < 5) problems.push(isRomiError(err) ? `${err.code} ${err.message}` : String(err));
    }
  }
}
console.log(`reads ${reads} bad ${bad} ${problems.join(' ; ')}`);
