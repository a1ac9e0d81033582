import { CorruptDataError, NotSupportedError, type RomiErrorOptions } from '@romi/db-core';

/**
 * Bytes that do not decode as the format they claim to be. `key` (and the message) name the
 * file: its local path, its database path, or `<bytes>` when the reader was given bytes.
 */
export class IoCorruptError extends CorruptDataError {
  readonly source: string;
  readonly format: string;
  constructor(source: string, format: string, detail: string, opts?: RomiErrorOptions) {
    super(source, `${format}: ${detail}`, opts);
    this.source = source;
    this.format = format;
  }
}

/** A well-formed file using a feature io does not handle (a dtype, a compression, a format). */
export class IoNotSupportedError extends NotSupportedError {
  readonly source: string;
  readonly format: string;
  constructor(source: string, format: string, detail: string) {
    super(`${source}: ${format}: ${detail}`);
    this.source = source;
    this.format = format;
  }
}

/**
 * A well-formed file that decodes to more than the reader's `maxBytes` allows (or than one
 * array can hold). Code ROMI_NOT_SUPPORTED: the file is fine, the limit is ours; raise `maxBytes`.
 */
export class IoTooLargeError extends IoNotSupportedError {
  /** The decoded bytes the file needs, and the limit they exceed. */
  readonly size: number;
  readonly maxBytes: number;
  constructor(source: string, format: string, what: string, size: number, maxBytes: number, reason?: string) {
    super(source, format, `${what} decodes to ${size} bytes, ${reason ?? `more than maxBytes (${maxBytes}); raise maxBytes to read it`}`);
    this.size = size;
    this.maxBytes = maxBytes;
  }
}
