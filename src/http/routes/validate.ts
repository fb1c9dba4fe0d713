// Request validation for the management API: strict zod schemas, errors naming the field.

import type { z } from 'zod';
import { MandateError } from '../../core/errors.js';
import { zodToMessage } from '../error-handler.js';

export function parseWith<T extends z.ZodType>(schema: T, value: unknown, where = 'body'): z.infer<T> {
  if (where === 'body' && (value === null || typeof value !== 'object' || Array.isArray(value))) {
    throw new MandateError('invalid_request', 'request body must be a JSON object');
  }
  const r = schema.safeParse(value ?? {});
  if (!r.success) throw new MandateError('invalid_request', `invalid ${where}: ${zodToMessage(r.error)}`);
  return r.data;
}
