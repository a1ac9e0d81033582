/**
 * One HTTP server of bench/server.ts in a process of its own, so that its RSS is its own and the
 * load generator (autocannon, in the bench's process) does not share its event loop.
 *
 * Started by fork() with the ts-register hooks and one JSON argument:
 *   {"kind":"romidb","root":DIR,"auth"?:{"secret":BASE64,"username":U,"password":P}}  @romi/server's
 *     createServer over the FSDB folder DIR; with `auth`, the account U is added as admin before
 *     (argon2 at 1 MiB and one pass: a login does not weigh on the bench) and the server gets the
 *     write routes, with that JWT key;
 *   {"kind":"raw","files":{"/url":{"path":FILE,"type":MIME,"memory"?:true}},"uploadDir"?:DIR}
 *     node:http answering each URL path with createReadStream(FILE).pipe(res) (Content-Length
 *     from one stat made on the first request), or with the file's bytes read once at start-up
 *     when `memory` is set (an answer a server keeps in memory, as the catalog keeps
 *     /scans_info); with `uploadDir`, a POST to /upload/<name> streams the body into
 *     DIR/<name> (pipeline to createWriteStream) and answers 201: the floor for receiving an upload.
 * Sends {port} when it listens; answers the message 'usage' with {rss, maxRss, sampledPeak, cpuUs}:
 * RSS, the process's peak RSS (getrusage: start-up included, such as the TypeScript compiler that
 * the ts-register hooks load when a source changed) and the largest RSS sampled every 10 ms since
 * the last 'usage', in bytes; CPU time used so far (user + system) in µs. Exits when the bench
 * disconnects or sends 'close'.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, join } from 'node:path';
import { pipeline } from 'node:stream/promises';

type Config =
  | { kind: 'romidb'; root: string; auth?: { secret: string; username: string; password: string } }
  | { kind: 'raw'; files: Record<string, { path: string; type: string; memory?: boolean }>; uploadDir?: string };

const config = JSON.parse(process.argv[2]!) as Config;
let close: () => Promise<unknown>;
let port: number;

if (config.kind === 'romidb') {
  // Imported here only: the raw server loads nothing of romidb.
  const { FSDB } = await import('@romi/fsdb');
  const { AccountStore, createServer } = await import('@romi/server');
  // Cheap hashes: the bench measures writes, not logins.
  const accounts = { hashParams: { memoryCost: 1024, timeCost: 1, parallelism: 1 } };
  let auth: { secret: Uint8Array; accounts: typeof accounts } | undefined;
  if (config.auth) {
    const { username, password } = config.auth;
    await new AccountStore(new FSDB(config.root).backend, accounts).addUser({ username, fullname: username, password, roles: ['admin'] });
    auth = { secret: Buffer.from(config.auth.secret, 'base64'), accounts };
  }
  const app = await createServer({ db: new FSDB(config.root), rateLimit: false, refreshIntervalMs: 0, auth });
  await app.listen({ host: '127.0.0.1', port: 0 });
  port = (app.server.address() as AddressInfo).port;
  close = () => app.close();
} else {
  const files = config.files;
  const memory = new Map<string, Buffer>();
  for (const [url, f] of Object.entries(files)) if (f.memory) memory.set(url, await readFile(f.path));
  const sizes = new Map<string, number>();
  const uploadDir = config.uploadDir;
  const server: Server = createHttpServer((req, res) => {
    const url = req.url!.split('?')[0]!;
    if (req.method === 'POST' && uploadDir && url.startsWith('/upload/')) {
      void pipeline(req, createWriteStream(join(uploadDir, basename(url)))).then(
        () => res.writeHead(201).end(),
        () => res.writeHead(500).end(),
      );
      return;
    }
    const file = files[url];
    if (!file) {
      res.writeHead(404).end();
      return;
    }
    const bytes = memory.get(url);
    if (bytes) {
      res.writeHead(200, { 'Content-Type': file.type, 'Content-Length': bytes.length }).end(bytes);
      return;
    }
    const send = (size: number) => {
      res.writeHead(200, { 'Content-Type': file.type, 'Content-Length': size });
      createReadStream(file.path).pipe(res);
    };
    const size = sizes.get(url);
    if (size !== undefined) send(size);
    else {
      void stat(file.path).then(
        (st) => {
          sizes.set(url, st.size);
          send(st.size);
        },
        () => res.writeHead(404).end(),
      );
    }
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  close = () => new Promise((resolve) => server.close(resolve));
}

const stop = async () => {
  await Promise.race([close(), new Promise((resolve) => setTimeout(resolve, 2_000))]);
  process.exit(0);
};
process.on('disconnect', () => void stop());
let sampledPeak = 0;
setInterval(() => {
  sampledPeak = Math.max(sampledPeak, process.memoryUsage.rss());
}, 10).unref();
process.on('message', (m) => {
  if (m === 'usage') {
    const cpu = process.cpuUsage();
    const rss = process.memoryUsage.rss();
    process.send!({ rss, maxRss: process.resourceUsage().maxRSS * 1024, sampledPeak: Math.max(sampledPeak, rss), cpuUs: cpu.user + cpu.system });
    sampledPeak = 0;
  }
  else if (m === 'close') void stop();
});
process.send!({ port });
