// HAProxy's own view of its servers, from `show stat`: `status` is the server's state after HAProxy's
// rise/fall ("UP", "UP 1/2" going down, "DOWN", "DOWN 1/2" coming up, "NOLB", "MAINT", "no check"),
// `check_status` the last check ("L7OK", "L4TOUT", "L7STS"...; "* " while one runs) and
// `check_duration` its milliseconds. A server without checks, in maintenance, or not checked yet
// (check status INI/UNK: a server just added) says nothing about its origin. Pure: rows in, readings out.
import type { DesiredPool } from '../plan/desired.ts';
import type { OriginReading } from '../health/reading.ts';
import type { StatRow } from './parse.ts';

const PASSING = new Set(['L4OK', 'L6OK', 'L7OK', 'L7OKC']);

export function haproxyHealth(rows: readonly StatRow[], pools: readonly DesiredPool[]): OriginReading[] {
  const out: OriginReading[] = [];
  for (const pool of pools) {
    for (const s of pool.servers) {
      const row = rows.find((r) => r.pxname === pool.name && r.svname === s.name);
      const status = (row?.status ?? '').trim();
      const up = /^(UP|NOLB|DRAIN)\b/.test(status);
      if (!row || (!up && !/^DOWN\b/.test(status))) continue; // "no check", "MAINT", unknown: no opinion
      const check = (row.check_status ?? '').replace(/^\*\s*/, '').trim();
      if (check === '' || check === 'INI' || check === 'UNK') continue; // not checked yet
      const passed = PASSING.has(check);
      const ms = Number(row.check_duration);
      out.push({
        loadBalancer: pool.loadBalancer,
        originId: s.originId,
        origin: s.origin,
        healthy: up,
        result: passed ? 'pass' : 'fail',
        latencyMs: passed && row.check_duration !== '' && Number.isFinite(ms) ? ms : null,
        detail: `haproxy ${pool.name}/${s.name}: ${status}${check ? ` (${check}${row.check_code ? ` ${row.check_code}` : ''})` : ''}`,
      });
    }
  }
  return out;
}
