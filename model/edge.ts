import { z } from 'zod';
import { patchSchema } from './patch.ts';
import { IpAddress, Location, Name, Region } from './primitives.ts';

const edgeFields = {
  name: Name,
  region: Region,
  address: IpAddress,
  location: Location,
};

export const EdgeInput = z.strictObject(edgeFields).meta({ id: 'EdgeSpec' });
export type EdgeInput = z.input<typeof EdgeInput>;
export const EdgePatch = patchSchema(edgeFields);

export const Edge = z.strictObject({
  id: z.string(),
  ...edgeFields,
  revision: z.number().int(),
  created_at: z.string(),
  updated_at: z.string(),
}).meta({ id: 'Edge' });
export type Edge = z.output<typeof Edge>;
