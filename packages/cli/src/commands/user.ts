/**
 * user add | passwd | list | lock | unlock, group add | list | add-member: the accounts of
 * `romidb serve` (users.json, groups.json at the database root, in plantdb's format).
 *
 * These commands do not take the database's writer lock: a server may be running on the
 * database (and will hold that lock once it writes), and accounts must be manageable meanwhile.
 * They change the files through @romi/server's AccountStore, whose every write is conditional
 * (re-read and retried when another process wrote first; on a local folder also under a short
 * lock of its own), so a server and these commands never lose each other's changes.
 *
 * A password is never taken from the command line (it would show in `ps` and shell history):
 * it is typed twice without echo on a terminal, else read as one line from stdin.
 */
import type { Command } from 'commander';
import { AbortedError, AlreadyExistsError, InvalidArgumentError, MARKER_KEY, NotADatabaseError, NotFoundError } from '@romi/db-core';
import { AccountStore, checkUsername, ROLES, type Account, type Role } from '@romi/server';
import { UsageError, type Context } from '../context.js';

/** What stdin may hold: a password line (a few KiB at most is plenty). */
const MAX_LINE = 64 * 1024;

type Stdin = NodeJS.ReadStream;

/** One line of stdin (without its line end), for scripts: `echo "$PW" | romidb user add x`. */
async function readLine(stdin: Stdin): Promise<string> {
  let text = '';
  for await (const chunk of stdin) {
    text += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8');
    const end = text.indexOf('\n');
    if (end >= 0) {
      text = text.slice(0, end);
      break;
    }
    if (text.length > MAX_LINE) throw new InvalidArgumentError('Invalid password: the line on stdin is too long');
  }
  stdin.pause();
  return text.replace(/\r$/, '');
}

/** Asks on the terminal without echoing what is typed. Ctrl-C stops the command. */
function askHidden(ctx: Context, stdin: Stdin, question: string): Promise<string> {
  // Echo off before the question shows, so that nothing typed after it is echoed.
  stdin.setRawMode(true);
  stdin.setEncoding('utf8');
  stdin.resume();
  ctx.io.stderr.write(question);
  return new Promise((resolve, reject) => {
    let typed = '';
    const finish = (err?: Error): void => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      ctx.io.stderr.write('\n');
      if (err) reject(err);
      else resolve(typed);
    };
    const onData = (chunk: string): void => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return finish();
        if (ch === '\u0003') return finish(new AbortedError());
        if (ch === '\u007f' || ch === '\b') typed = [...typed].slice(0, -1).join('');
        else typed += ch;
        if (typed.length > MAX_LINE) return finish(new InvalidArgumentError('Invalid password: too long'));
      }
    };
    stdin.on('data', onData);
  });
}

/** The new password: typed twice on a terminal (unless --password-stdin), else one line of stdin. */
async function newPassword(ctx: Context, fromStdin: boolean): Promise<string> {
  const stdin = process.stdin;
  if (fromStdin || !stdin.isTTY) return readLine(stdin);
  const first = await askHidden(ctx, stdin, 'New password: ');
  const again = await askHidden(ctx, stdin, 'Again: ');
  if (first !== again) throw new UsageError('the two passwords differ; nothing was changed');
  return first;
}

/** The account store of the database named by --db (which must be a romidb database). */
async function accounts(ctx: Context): Promise<AccountStore> {
  const db = await ctx.make(ctx.location());
  if (!(await db.backend.head(MARKER_KEY, { signal: ctx.signal }))) throw new NotADatabaseError(db.url);
  return new AccountStore(db.backend);
}

function state(a: Account): string {
  if (!a.isActive) return 'locked (until unlocked)';
  if (a.lockedUntil && a.lockedUntil > new Date()) return `locked until ${a.lockedUntil.toISOString()}`;
  return 'active';
}

/** What is printed of an account: never its hash. */
function shown(a: Account): Record<string, unknown> {
  return { ...a, state: state(a) };
}

function minutes(value: string): number {
  const n = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || !(n > 0) || n > 525_600 * 100) throw new UsageError(`invalid --minutes "${value}": a number of minutes above 0`);
  return n;
}

export function registerUser(program: Command, ctx: Context): void {
  const user = program.command('user').description("manage the accounts of `romidb serve` (users.json, plantdb's format)");

  user
    .command('add')
    .description('create an account; the password is typed twice (terminal) or read as one line from stdin')
    .argument('<name>', 'username (lower-cased): letters, digits, _ - .')
    .option('--fullname <text>', 'full name (default: the username)')
    .option('--role <role>', `one of ${ROLES.join(', ')}`, 'reader')
    .option('--password-stdin', 'read the password as one line from stdin, even on a terminal')
    .action(async (name: string, opts: { fullname?: string; role: string; passwordStdin?: boolean }) => {
      if (!(ROLES as readonly string[]).includes(opts.role)) throw new UsageError(`invalid --role "${opts.role}": one of ${ROLES.join(', ')}`);
      const username = checkUsername(name);
      const store = await accounts(ctx);
      // Refused before the password is asked for (and again by the store, when writing).
      if (await store.getUser(username)) throw new AlreadyExistsError(`User "${username}" already exists`, { key: username });
      const password = await newPassword(ctx, !!opts.passwordStdin);
      const made = await store.addUser({ username, fullname: opts.fullname, password, roles: [opts.role as Role] });
      ctx.out.result(shown(made), () => `added user ${made.username} (${made.roles.join(', ')})`);
    });

  user
    .command('passwd')
    .description("replace an account's password (typed twice, or one line from stdin)")
    .argument('<name>')
    .option('--password-stdin', 'read the password as one line from stdin, even on a terminal')
    .action(async (name: string, opts: { passwordStdin?: boolean }) => {
      const username = checkUsername(name);
      const store = await accounts(ctx);
      if (!(await store.getUser(username))) throw new NotFoundError(`Unknown user "${username}"`, { key: username });
      const password = await newPassword(ctx, !!opts.passwordStdin);
      const changed = await store.setPassword(username, password);
      ctx.out.result(shown(changed), () => `changed the password of ${changed.username}`);
    });

  user
    .command('list')
    .description('list the accounts (never their password hashes)')
    .action(async () => {
      const all = (await (await accounts(ctx)).listUsers()).map(shown);
      ctx.out.result(all, () =>
        all.length === 0 ? 'no users' : all.map((a) => [a.username, (a.roles as string[]).join(','), a.state, a.fullname].join('\t')),
      );
    });

  user
    .command('lock')
    .description('refuse logins to an account: for --minutes, or until unlocked')
    .argument('<name>')
    .option('--minutes <n>', 'lock for this long (default: until `romidb user unlock`)')
    .action(async (name: string, opts: { minutes?: string }) => {
      const until = opts.minutes === undefined ? undefined : new Date(Date.now() + minutes(opts.minutes) * 60_000);
      const locked = await (await accounts(ctx)).lock(name, until);
      ctx.out.result(shown(locked), () => `${locked.username}: ${state(locked)}`);
    });

  user
    .command('unlock')
    .description('allow logins again (clears a lock, failed attempts, and a lock until unlocked)')
    .argument('<name>')
    .action(async (name: string) => {
      const unlocked = await (await accounts(ctx)).unlock(name);
      ctx.out.result(shown(unlocked), () => `${unlocked.username}: ${state(unlocked)}`);
    });

  const group = program.command('group').description("manage the groups of `romidb serve` (groups.json, plantdb's format)");

  group
    .command('add')
    .description('create a group; its creator is its first member')
    .argument('<name>', 'letters, digits, _ - .')
    .requiredOption('--creator <user>', 'an existing username')
    .option('--description <text>')
    .action(async (name: string, opts: { creator: string; description?: string }) => {
      const made = await (await accounts(ctx)).addGroup({ name, createdBy: opts.creator, description: opts.description });
      ctx.out.result(made, () => `added group ${made.name} (${made.users.join(', ')})`);
    });

  group
    .command('list')
    .description('list the groups and their members')
    .action(async () => {
      const all = await (await accounts(ctx)).listGroups();
      ctx.out.result(all, () => (all.length === 0 ? 'no groups' : all.map((g) => [g.name, g.users.join(','), g.description ?? ''].join('\t'))));
    });

  group
    .command('add-member')
    .description('add an existing user to an existing group')
    .argument('<group>')
    .argument('<user>')
    .action(async (name: string, username: string) => {
      const added = await (await accounts(ctx)).addMember(name, username);
      ctx.out.result({ group: name, user: username.toLowerCase(), added }, () => (added ? `added ${username.toLowerCase()} to ${name}` : `${username.toLowerCase()} already is in ${name}`));
    });
}
