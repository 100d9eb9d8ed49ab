// PATCH bodies: every field optional and, unlike zod's .partial(), no defaults filled in — a default
// would silently reset a field the client did not mention.
import { z } from 'zod';

export function patchSchema<T extends z.ZodRawShape>(fields: T) {
  const shape: Record<string, z.ZodType> = {};
  for (const [key, schema] of Object.entries(fields)) {
    const inner = schema instanceof z.ZodDefault ? (schema.unwrap() as z.ZodType) : (schema as z.ZodType);
    shape[key] = inner.optional();
  }
  return z.strictObject(shape) as unknown as z.ZodObject<{ [K in keyof T]: z.ZodOptional<T[K]> }, z.core.$strict>;
}
