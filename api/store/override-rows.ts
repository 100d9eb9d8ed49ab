// Operator overrides as both stores keep them (model/override.ts): one row per override, the spec as
// JSON, who created and who cancelled it. Rows are never deleted while their load balancer exists
// (the audit trail); `state` (active, expired, cancelled) is computed at read time, so expiry needs no
// writer. Creation and cancellation also add an `override` record to the decision log.
import type { DecisionInput, Override, OverrideSpec } from '../../model/index.ts';
import { overrideState } from '../../model/index.ts';

export interface OverrideRow {
  id: string;
  load_balancer_id: string;
  spec: string;
  created_at: string;
  created_by: string;
  cancelled_at: string | null;
  cancelled_by: string | null;
}

export function overrideFromRow(row: OverrideRow, now: number): Override {
  const spec = JSON.parse(row.spec) as OverrideSpec;
  const base = { ...spec, id: row.id, load_balancer_id: row.load_balancer_id, created_at: row.created_at, created_by: row.created_by, cancelled_at: row.cancelled_at, cancelled_by: row.cancelled_by };
  return { ...base, state: overrideState(base, now) };
}

/** Overrides neither cancelled nor expired at `now`. */
export function activeAt(rows: OverrideRow[], now: number): Override[] {
  return rows.map((r) => overrideFromRow(r, now)).filter((o) => o.state === 'active');
}

/** The decision-log record of a creation or a cancellation (reason `override`). */
export function overrideAudit(o: Override, event: 'created' | 'cancelled'): DecisionInput {
  const who = event === 'created' ? o.created_by : o.cancelled_by;
  const until = o.expires_at ? ` until ${o.expires_at}` : '';
  return {
    load_balancer_id: o.load_balancer_id,
    reason: 'override',
    detail: `override ${o.id} (${o.kind}) ${event} by ${who}${event === 'created' ? `${until}: ${o.reason}` : ''}`,
    inputs: { override: { event, ...o } },
  };
}
