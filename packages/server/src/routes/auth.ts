/**
 * plantdb 0.15's authentication routes: /login, /logout, /register, /token-validation,
 * /token-refresh, /create-api-token. Accounts are those of the database's users.json (the
 * AccountStore), tokens plantdb's JWTs (the TokenService). Unlike plantdb, a missing, bad,
 * expired or revoked token is a 401 with `WWW-Authenticate: Bearer`, a missing permission a 403,
 * and a locked account answers as a wrong password does (401) with `Retry-After`.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ErrorCodes, InvalidArgumentError, isRomiError } from '@romi/db-core';
import type { AccountStore, Account, Role } from '../auth/users.js';
import { InvalidTokenError, type Permission, type TokenService, type VerifiedToken } from '../auth/tokens.js';
import { errorSchema, type RouteContext } from '../context.js';
import { HttpError } from '../http-errors.js';

export interface AuthContext {
  accounts: AccountStore;
  tokens: TokenService;
}

/** plantdb's permissions of each role. */
export const ROLE_PERMISSIONS: Readonly<Record<Role, readonly Permission[]>> = {
  reader: ['read'],
  contributor: ['read', 'write', 'create'],
  admin: ['read', 'write', 'create', 'delete', 'manage_users', 'manage_groups'],
};

/** Every permission an account has: its roles' and its extra ones. */
export function permissionsOf(account: Account): Set<Permission> {
  const out = new Set<Permission>();
  for (const role of account.roles) for (const p of ROLE_PERMISSIONS[role]) out.add(p);
  for (const p of account.extraPermissions) out.add(p.toLowerCase() as Permission);
  return out;
}

const unauthorized = (message: string): HttpError => new HttpError(401, ErrorCodes.INVALID_TOKEN, message);

/** The account behind the request's `Authorization: Bearer` token; 401 without a valid one. */
export async function authenticated(auth: AuthContext, req: FastifyRequest, accept: Parameters<TokenService['authenticate']>[1] = ['access', 'api']): Promise<{ token: VerifiedToken; account: Account }> {
  const header = req.headers.authorization;
  const m = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  if (!m) throw unauthorized('No authenticated user!');
  const token = await auth.tokens.authenticate(m[1], accept);
  const account = await auth.accounts.getUser(token.sub);
  if (!account || !account.isActive) throw new InvalidTokenError('revoked', `The account "${token.sub}" is no longer active`);
  return { token, account };
}

const body = (properties: Record<string, unknown>, required: string[]) => ({ type: 'object', properties, required, additionalProperties: true }) as const;
const userAnswer = { type: 'object', properties: { username: { type: 'string' }, fullname: { type: 'string' } } } as const;

/** A string field of a JSON body, or a 400 naming it. */
function field(value: unknown, name: string, maxLength = 4096): string {
  if (typeof value !== 'string' || value === '' || value.length > maxLength) throw new HttpError(400, ErrorCodes.INVALID_ARGUMENT, `Missing or invalid '${name}'`);
  return value;
}

export function registerAuthRoutes(ctx: RouteContext, auth: AuthContext): void {
  const { app } = ctx;
  // Every 401 says how to authenticate (RFC 6750).
  app.addHook('onSend', async (_req, reply: FastifyReply, payload) => {
    if (reply.statusCode === 401) reply.header('WWW-Authenticate', 'Bearer realm="romidb"');
    return payload;
  });

  app.get<{ Querystring: { username?: string } }>(
    '/login',
    {
      ...ctx.limited('auth'),
      schema: {
        summary: 'Whether a username exists (plantdb)',
        tags: ['auth'],
        querystring: { type: 'object', properties: { username: { type: 'string' } } },
        response: { 200: { type: 'object', properties: { username: { type: 'string' }, exists: { type: 'boolean' } } }, 400: errorSchema },
      },
    },
    async (req) => {
      const username = field(req.query.username, 'username', 256);
      return { username, exists: (await auth.accounts.getUser(username).catch(() => undefined)) !== undefined };
    },
  );

  app.post<{ Body: { username?: unknown; password?: unknown } }>(
    '/login',
    {
      ...ctx.limited('auth'),
      schema: {
        summary: 'Log in: an access and a refresh token',
        tags: ['auth'],
        body: { type: 'object' },
        response: {
          200: { type: 'object', properties: { message: { type: 'string' }, user: userAnswer, access_token: { type: 'string' }, refresh_token: { type: 'string' } } },
          400: errorSchema,
          401: errorSchema,
        },
      },
    },
    async (req, reply) => {
      const { username, password } = req.body ?? {};
      if (typeof username !== 'string' || typeof password !== 'string' || !username || !password) {
        throw new HttpError(400, ErrorCodes.INVALID_ARGUMENT, 'Missing username or password');
      }
      let account: Account;
      try {
        account = await auth.accounts.verifyLogin(username, password);
      } catch (err) {
        if (isRomiError(err, ErrorCodes.ACCOUNT_LOCKED)) {
          const until = (err as { until?: Date }).until;
          if (until) reply.header('Retry-After', String(Math.max(1, Math.ceil((until.getTime() - Date.now()) / 1000))));
          throw new HttpError(401, ErrorCodes.INVALID_CREDENTIALS, 'Invalid credentials');
        }
        if (err instanceof InvalidArgumentError || isRomiError(err, ErrorCodes.INVALID_CREDENTIALS)) throw new HttpError(401, ErrorCodes.INVALID_CREDENTIALS, 'Invalid credentials');
        throw err;
      }
      const pair = await auth.tokens.login(account.username);
      return { message: 'Login successful', user: { username: account.username, fullname: account.fullname }, access_token: pair.accessToken, refresh_token: pair.refreshToken };
    },
  );

  app.post(
    '/logout',
    { ...ctx.limited('auth'), schema: { summary: 'Log out: revokes the token and its session', tags: ['auth'], response: { 200: { type: 'object', properties: { message: { type: 'string' } } }, 401: errorSchema } } },
    async (req) => {
      const { token } = await authenticated(auth, req, ['access', 'refresh', 'api']);
      await auth.tokens.revoke(/^Bearer\s+(\S+)/i.exec(req.headers.authorization!)![1]);
      return { message: `Logout successful from ${token.sub}` };
    },
  );

  app.post(
    '/token-validation',
    {
      ...ctx.limited('auth'),
      schema: { summary: 'Whether the bearer token is valid, and whose it is', tags: ['auth'], response: { 200: { type: 'object', properties: { message: { type: 'string' }, user: userAnswer } }, 401: errorSchema } },
    },
    async (req) => {
      try {
        const { account } = await authenticated(auth, req);
        return { message: 'Token validation successful', user: { username: account.username, fullname: account.fullname } };
      } catch (err) {
        if (err instanceof HttpError || isRomiError(err, ErrorCodes.INVALID_TOKEN)) throw unauthorized(`Token validation failed: ${(err as Error).message}`);
        throw err;
      }
    },
  );

  app.post<{ Body: { refresh_token?: unknown } }>(
    '/token-refresh',
    {
      ...ctx.limited('auth'),
      schema: {
        summary: 'A new token pair for a refresh token (which is then used up)',
        tags: ['auth'],
        body: { type: 'object' },
        response: { 200: { type: 'object', properties: { message: { type: 'string' }, access_token: { type: 'string' }, refresh_token: { type: 'string' } } }, 400: errorSchema, 401: errorSchema },
      },
    },
    async (req) => {
      const refreshToken = field(req.body?.refresh_token, 'refresh_token', 16 * 1024);
      const pair = await auth.tokens.refresh(refreshToken);
      return { message: 'Token refreshed successfully', access_token: pair.accessToken, refresh_token: pair.refreshToken };
    },
  );

  app.post<{ Body: { username?: unknown; fullname?: unknown; password?: unknown } }>(
    '/register',
    {
      ...ctx.limited('auth'),
      schema: {
        summary: 'Create an account (administrators)',
        tags: ['auth'],
        body: body({ username: { type: 'string' }, fullname: { type: 'string' }, password: { type: 'string' } }, []),
        response: { 201: { type: 'object', properties: { message: { type: 'string' } } }, 400: errorSchema, 401: errorSchema, 403: errorSchema, 409: errorSchema },
      },
    },
    async (req, reply) => {
      const { account } = await authenticated(auth, req, ['access']);
      if (!permissionsOf(account).has('manage_users')) throw new HttpError(403, 'ROMI_FORBIDDEN', `User "${account.username}" may not create accounts`);
      const b = req.body ?? {};
      await auth.accounts.addUser({ username: field(b.username, 'username', 256), fullname: typeof b.fullname === 'string' ? b.fullname : '', password: field(b.password, 'password') });
      return reply.code(201).send({ message: 'User successfully created' });
    },
  );

  app.post<{ Body: { token_exp?: unknown; datasets?: unknown } }>(
    '/create-api-token',
    {
      ...ctx.limited('auth'),
      schema: {
        summary: 'An API token for the bearer, optionally limited to datasets (globs) and permissions',
        tags: ['auth'],
        body: { type: 'object' },
        response: { 200: { type: 'object', properties: { message: { type: 'string' }, api_token: { type: 'string' }, 'expiration date': { type: 'string' } } }, 400: errorSchema, 401: errorSchema },
      },
    },
    async (req) => {
      const { token } = await authenticated(auth, req, ['access']);
      const { token_exp: ttl, datasets } = req.body ?? {};
      if (ttl !== undefined && !(Number.isSafeInteger(ttl) && (ttl as number) > 0)) throw new HttpError(400, ErrorCodes.INVALID_ARGUMENT, "'token_exp' must be a whole number of seconds");
      if (datasets !== undefined && typeof datasets !== 'string' && (typeof datasets !== 'object' || datasets === null || Array.isArray(datasets))) {
        throw new HttpError(400, ErrorCodes.INVALID_ARGUMENT, "'datasets' must be an object of globs to permissions, or plantdb's text form");
      }
      const made = await auth.tokens.issueApiToken(token.sub, { ttl: ttl as number | undefined, datasets: datasets as string | Record<string, string[]> | undefined });
      return { message: 'API Token generated successfully', api_token: made.token, 'expiration date': new Date(made.expiresAt * 1000).toISOString() };
    },
  );
}
