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
