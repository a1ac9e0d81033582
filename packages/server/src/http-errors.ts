/**
 * How errors become HTTP answers. Every error body is JSON `{ "message": …, "code": … }`:
 * `message` as plantdb writes it where clients read it, `code` one of romidb's stable codes
 * (ROMI_NOT_FOUND, ROMI_INVALID_ARGUMENT, …) plus ROMI_RATE_LIMITED and ROMI_INTERNAL here.
 */
import { ErrorCodes, isRomiError } from '@romi/db-core';

/** An error whose status and code the server chose itself. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export const badRequest = (message: string): HttpError => new HttpError(400, ErrorCodes.INVALID_ARGUMENT, message);
export const notFound = (message: string): HttpError => new HttpError(404, ErrorCodes.NOT_FOUND, message);

/** The status of each romidb error code; anything else is a server-side failure (500). */
const STATUS_OF_CODE: Readonly<Record<string, number>> = {
  [ErrorCodes.NOT_FOUND]: 404,
  [ErrorCodes.INVALID_ID]: 400,
  [ErrorCodes.INVALID_ARGUMENT]: 400,
  [ErrorCodes.INVALID_METADATA]: 400,
  [ErrorCodes.INVALID_KEY]: 400,
  [ErrorCodes.ALREADY_EXISTS]: 409,
  [ErrorCodes.CONDITION_FAILED]: 409,
  [ErrorCodes.READ_ONLY]: 403,
  [ErrorCodes.INVALID_TOKEN]: 401,
  [ErrorCodes.INVALID_CREDENTIALS]: 401,
  [ErrorCodes.ACCOUNT_LOCKED]: 401,
  [ErrorCodes.NOT_SUPPORTED]: 415,
  [ErrorCodes.NOT_CONNECTED]: 503,
  [ErrorCodes.DB_BUSY]: 503,
};

export interface ErrorBody {
  message: string;
  code: string;
}

/** The status and body of any error thrown while answering a request. */
export function describeError(err: unknown): { status: number; body: ErrorBody; internal: boolean } {
  if (err instanceof HttpError) return { status: err.statusCode, body: { message: err.message, code: err.code }, internal: false };
  if (isRomiError(err)) {
    const status = STATUS_OF_CODE[err.code] ?? 500;
    return { status, body: { message: err.message, code: err.code }, internal: status >= 500 };
  }
  const e = err as { statusCode?: number; message?: string; validation?: unknown; code?: string };
  if (e?.statusCode === 429) return { status: 429, body: { message: 'Rate limit exceeded. Please try again later.', code: 'ROMI_RATE_LIMITED' }, internal: false };
  if (e?.validation) return { status: 400, body: { message: String(e.message), code: ErrorCodes.INVALID_ARGUMENT }, internal: false };
  // Fastify's own client errors (a body it cannot parse, a URL it cannot decode): their messages name no server state.
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return { status: e.statusCode, body: { message: String(e.message), code: ErrorCodes.INVALID_ARGUMENT }, internal: false };
  }
  return { status: 500, body: { message: 'Internal server error (the server log has the details)', code: 'ROMI_INTERNAL' }, internal: true };
}

/** plantdb's id rule for names in a URL: letters, digits, `_`, `.`, `-`. */
const URL_ID = /^[A-Za-z0-9_.-]+$/;

/** Throws plantdb's 400 for a name that may not appear in a route (also `.` and `..`, which plantdb lets through). */
export function assertRouteId(value: string): string {
  if (!URL_ID.test(value) || value === '.' || value === '..') {
    throw badRequest(`Invalid name: '${value}'. Names must be alphanumeric and can include underscores, dashes, or periods.`);
  }
  return value;
}

/** plantdb's boolean query flags, except that `false`, `0` and `no` mean false (plantdb: any non-empty value is true). */
export function parseFlag(value: string | undefined, name: string): boolean {
  if (value === undefined) return false;
  const v = value.trim().toLowerCase();
  if (v === 'true' || v === '1' || v === 'yes') return true;
  if (v === 'false' || v === '0' || v === 'no' || v === '') return false;
  throw badRequest(`Invalid value for ${name}: '${value}' (use true or false)`);
}
