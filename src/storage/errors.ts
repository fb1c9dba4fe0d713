// Errors storage adapters translate driver errors into.

import { MandateError } from '../core/errors.js';

export class NotFoundError extends MandateError {
  constructor(message: string) {
    super('not_found', message);
    this.name = 'NotFoundError';
  }
}

export class ConflictError extends MandateError {
  constructor(message: string, cause?: unknown) {
    super('conflict', message, { cause });
    this.name = 'ConflictError';
  }
}

export class StorageUnavailableError extends MandateError {
  constructor(message: string, cause?: unknown) {
    super('storage_unavailable', message, { cause });
    this.name = 'StorageUnavailableError';
  }
}
