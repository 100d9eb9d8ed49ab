import { describe, expect, it } from 'vitest';
import type { SocketRecord } from '../collector.ts';
import { TCP_STATE } from '../netlink/constants.ts';
import { subnet4 } from './learner.ts';
import { SubnetTable } from './subnet-table.ts';
import { ConnectionTurnover, SubnetTurnoverMap } from './turnover.ts';

let nextId = 1;
function sock(remote: string, over: Partial<SocketRecord> = {}): SocketRecord {
  return { id: nextId++, family: 4, state: TCP_STATE.ESTABLISHED, localAddr: '203.0.113.1', localPort: 443, remoteAddr: remote, remotePort: 40000, ...over };
}
const subnetOf = (s: SocketRecord) => subnet4(s.remoteAddr, 24);

describe('connection turnover', () => {
  it('counts connection-seconds between polls, closes when a connection leaves ESTABLISHED or the dump, and open connections', () => {
    const t = new ConnectionTurnover();
    const a = sock('198.51.100.7');
    const b = sock('198.51.100.8');
    t.ingest([a, b], 0, true, subnetOf);
    expect(t.ports.get(443)).toMatchObject({ open: 2, closes: 0, connectionSeconds: 0 });
    t.ingest([a, b], 1000, true, subnetOf);
    expect(t.ports.get(443)!.connectionSeconds).toBe(2);
    // a starts closing (the client sent FIN): it was open until now; b vanished (closed at some point
    // in the last 2 s: half of it counts).
    t.ingest([{ ...a, state: TCP_STATE.CLOSE_WAIT }], 3000, true, subnetOf);
    expect(t.ports.get(443)).toMatchObject({ open: 0, closes: 2, connectionSeconds: 2 + 2 + 1 });
    expect(t.subnet('198.51.100.0/24')).toEqual({ closes: 2, connectionSeconds: 5 });
    // Mean lifetime as the scheduler fits it: connection-seconds / closes.
    expect(t.ports.get(443)!.connectionSeconds / t.ports.get(443)!.closes).toBe(2.5);
    // a disappears later: it was already counted as closed.
    t.ingest([], 4000, true, subnetOf);
    expect(t.ports.get(443)!.closes).toBe(2);
    expect(t.trackedConnections).toBe(0);
  });

  it('a partial dump forgets nothing, and a one-poll connection adds no open time', () => {
    const t = new ConnectionTurnover();
    const a = sock('198.51.100.7');
    t.ingest([a], 0, true, subnetOf);
    t.ingest([], 1000, false, subnetOf);
    expect(t.ports.get(443)!.closes).toBe(0);
    expect(t.trackedConnections).toBe(1);
    const short = sock('192.0.2.9');
    t.ingest([a, short], 2000, true, subnetOf);
    t.ingest([a], 3000, true, subnetOf);
    expect(t.subnet('192.0.2.0/24')).toEqual({ closes: 1, connectionSeconds: 0.5 });
  });

  it('counts bytes as deltas, from the first poll on (history before it is not traffic)', () => {
    const t = new ConnectionTurnover();
    const old = sock('198.51.100.7', { bytesAcked: 1e6, bytesReceived: 5000 });
    t.ingest([old], 0, true, subnetOf);
    expect(t.ports.get(443)).toMatchObject({ bytesSent: 0, bytesReceived: 0 });
    const fresh = sock('198.51.100.8', { bytesAcked: 300, bytesReceived: 100 });
    t.ingest([{ ...old, bytesAcked: 1.5e6, bytesReceived: 5100 }, fresh], 1000, true, subnetOf);
    expect(t.ports.get(443)).toMatchObject({ bytesSent: 5e5 + 300, bytesReceived: 100 + 100 });
    // TIME_WAIT: no tcp_info, no counters — nothing is subtracted or re-added.
    t.ingest([{ ...fresh, state: TCP_STATE.TIME_WAIT, bytesAcked: undefined, bytesReceived: undefined }], 2000, true, subnetOf);
    expect(t.ports.get(443)).toMatchObject({ bytesSent: 5e5 + 300, bytesReceived: 200 });
  });

  it('keeps per-subnet counters in the learning table: they survive its growth and go with an evicted subnet', () => {
    const table = new SubnetTable({ maxSubnets: 3000, ttlMs: 3_600_000, alpha: 0.3 });
    const t = new ConnectionTurnover(undefined, table);
    const a = sock('198.51.100.7');
    table.touch('198.51.100.0/24', 0);
    t.ingest([a], 0, true, subnetOf);
    t.ingest([a], 1000, true, subnetOf);
    expect(t.subnet('198.51.100.0/24')).toEqual({ closes: 0, connectionSeconds: 1 });
    // 2999 more subnets: the columns grow (1024 → 2048 → 3000 slots) and keep what they held.
    for (let k = 1; k < 3000; k++) table.touch(`10.${k >> 8}.${k & 255}.0/24`, 2000);
    expect(t.subnet('198.51.100.0/24')).toEqual({ closes: 0, connectionSeconds: 1 });
    t.ingest([], 3000, true, subnetOf); // gone from a complete dump: closed, half the interval counted
    expect(t.subnet('198.51.100.0/24')).toEqual({ closes: 1, connectionSeconds: 2 });
    table.touch('203.0.113.0/24', 4000); // the table is full: the least recently seen subnet goes
    expect(table.get('198.51.100.0/24')).toBeUndefined();
    expect(t.subnet('198.51.100.0/24')).toEqual({ closes: 0, connectionSeconds: 0 });
    table.touch('198.51.100.0/24', 5000); // back: a new entry, its counters start again (a counter reset)
    expect(t.subnet('198.51.100.0/24')).toEqual({ closes: 0, connectionSeconds: 0 });
  });

  it('standalone, a map of its own that drops what it is told to', () => {
    const counters = new SubnetTurnoverMap();
    const t = new ConnectionTurnover(undefined, counters);
    const a = sock('198.51.100.7');
    t.ingest([a], 0, true, subnetOf);
    t.ingest([a], 1000, true, subnetOf);
    expect(t.subnet('198.51.100.0/24')).toEqual({ closes: 0, connectionSeconds: 1 });
    counters.prune(() => false);
    expect(t.subnet('198.51.100.0/24')).toEqual({ closes: 0, connectionSeconds: 0 });
  });
});

describe('expected survivors of open connections', () => {
  it('20-request connections of 8 s: the old ones are expected to close within the horizon, the young ones not', () => {
    const t = new ConnectionTurnover({ pollSeconds: 0.5, horizonSeconds: 2 });
    // History: 200 connections that lived 8 s each.
    for (let k = 0; k < 200; k++) {
      const c = sock('192.0.2.1');
      t.ingest([c], k * 20_000, true, subnetOf);
      t.ingest([c], k * 20_000 + 8000, true, subnetOf);
      t.ingest([], k * 20_000 + 8000, true, subnetOf);
    }
    // Now: one subnet's connection is 1 s old, another's 7 s old.
    const now = 10_000_000;
    const young = sock('198.51.100.7');
    const old = sock('203.0.113.9');
    t.ingest([old], now - 7000, true, subnetOf);
    t.ingest([old, young], now - 1000, true, subnetOf);
    t.ingest([old, young], now, true, subnetOf);
    expect(t.survivors('198.51.100.0/24')).toMatchObject({ open: 1, surviving: 1 });
    expect(t.survivors('203.0.113.0/24')).toMatchObject({ open: 1, surviving: 0 });
    expect(t.portSurvivors.get(443)).toMatchObject({ open: 2, surviving: 1 });
  });
});
