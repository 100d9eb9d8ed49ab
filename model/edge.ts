import { z } from 'zod';
import { IpAddress, Location, Name, Region } from './primitives.ts';

const edgeFields = {
  name: Name,
  region: Region,
  address: IpAddress,
  location: Location,
};

export const EdgeInput = z.strictObject(edgeFields);
export type EdgeInput = z.input<typeof EdgeInput>;
export const EdgePatch = z.strictObject(edgeFields).partial();

export const Edge = z.strictObject({
  id: z.string(),
  ...edgeFields,
  revision: z.number().int(),
  created_at: z.string(),
  updated_at: z.string(),
});
export type Edge = z.output<typeof Edge>;
