// Which origins may receive traffic this cycle, and what happens to the rest.
//
//   destination — healthy and active: the optimiser may plan traffic onto it;
//   draining    — admin_state drain (and healthy): no new plan, its share walks to 0 at the damping rate;
//   removed     — unhealthy, disabled, or not declared at all: its share is 0 in this very cycle, never
//                 damped; the freed share is re-planned at once.
//
// When no origin is a destination, sluice fails open in two steps rather than publishing nothing:
// healthy draining origins become destinations, else active/draining origins whose health check fails
// (an all-red health board is more often the checker's fault than every origin's). Only when every
// origin is disabled is there nothing to publish (status no_usable_origin: the caller holds).
import type { OriginState } from './types.ts';

export type OriginRole = 'destination' | 'draining' | 'removed';

export interface OriginRoles {
  role: Map<string, OriginRole>;
  /** Destination origins in declaration order: the solver's columns. */
  destinations: OriginState[];
  notes: string[];
}

export function classifyOrigins(origins: OriginState[]): OriginRoles {
  const role = new Map<string, OriginRole>();
  const notes: string[] = [];
  for (const o of origins) {
    role.set(o.id, o.admin_state === 'disabled' || !o.healthy ? 'removed' : o.admin_state === 'drain' ? 'draining' : 'destination');
  }
  let destinations = origins.filter((o) => role.get(o.id) === 'destination');
  if (destinations.length === 0) {
    const draining = origins.filter((o) => role.get(o.id) === 'draining');
    if (draining.length > 0) {
      notes.push(`no healthy active origin: planning onto draining origin(s) ${draining.map((o) => o.id).join(', ')}`);
      destinations = draining;
    } else {
      const failOpen = origins.filter((o) => o.admin_state !== 'disabled');
      if (failOpen.length > 0) {
        notes.push(`every origin is unhealthy: failing open onto ${failOpen.map((o) => o.id).join(', ')}`);
        destinations = failOpen;
      }
    }
    for (const o of destinations) role.set(o.id, 'destination');
  }
  return { role, destinations, notes };
}
