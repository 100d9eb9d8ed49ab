import { describe, expect, it } from 'vitest';
import type { Collector, SocketRecord } from './collector.ts';
import { AgentConfig } from './config.ts';
import { TCP_STATE } from './netlink/constants.ts';
import { Poller, unpackSubnets } from './poller.ts';

/** Socket records as a dump would return them (the learner's input); the kernel path has its own tests. */
function inbound(id: number, remoteAddr: string): SocketRecord {
  return { id, family: 4, state: TCP_STATE.ESTABLISHED, localAddr: '192.0.2.1', localPort: 443, remoteAddr, remotePort: 40000 + id, rttUs: 20_000, minRttUs: 19_000, lastAckRecvMs: 0 };
}

describe('Poller.exportSubnets (made when read, at most once per poll)', () => {
  it('reuses the export within a poll and makes a new one over the next poll', () => {
    let sockets: SocketRecord[] = [inbound(1, '198.51.100.7'), inbound(2, '198.51.100.8'), inbound(3, '203.0.113.9')];
    const collector: Collector = { name: 'records', collect: () => ({ sockets, complete: true }), close: () => {} };
    let now = 1_000_000;
    const poller = new Poller(AgentConfig.parse({ node: 't', service_ports: [443], min_connection_age: 0, min_samples: 1 }), collector, () => now);
    const report = poller.poll();
    expect(report.topSubnets).toBeUndefined(); // the poll itself makes no export
    const first = poller.exportSubnets();
    expect(poller.exportSubnets()).toBe(first); // a second scrape of the same poll: the same export
    expect(Object.fromEntries(unpackSubnets(first.topSubnets).map((s) => [s.subnet, s.connections]))).toEqual({ '198.51.100.0/24': 2, '203.0.113.0/24': 1 });
    expect(first.exportedSubnets).toEqual({ own: 2, aggregate: 0, none: 0 });
    sockets = [...sockets, inbound(4, '203.0.113.10')];
    now += 250;
    poller.poll();
    const second = poller.exportSubnets();
    expect(second).not.toBe(first);
    expect(Object.fromEntries(unpackSubnets(second.topSubnets).map((s) => [s.subnet, s.connections]))).toEqual({ '198.51.100.0/24': 2, '203.0.113.0/24': 2 });
    expect(poller.table(10).map((r) => [r.subnet, r.exported_as])).toEqual([['203.0.113.0/24', '203.0.113.0/24'], ['198.51.100.0/24', '198.51.100.0/24']]);
  });
});
