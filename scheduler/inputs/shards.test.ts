// The merge and stand-in rules of ShardedQuery, on scripted servers with a controlled clock (the real
// thing, two Prometheus processes: test/scheduler-prometheus-shards.test.ts).
import { describe, expect, it } from 'vitest';
import type { Series } from './assemble.ts';
import { ShardedQuery, type ShardFailures } from './shards.ts';
import { InputsUnavailable } from './types.ts';

function server(name: string, answer: () => Series[] | Error) {
  return {
    name,
    server: {
      url: `http://${name}`,
      query: async () => {
        const a = answer();
        if (a instanceof Error) throw a;
        return a;
      },
    },
  };
}

const s = (node: string, value: number, subnet = '10.0.0.0/24'): Series => ({ labels: { subnet, node }, value });

describe('ShardedQuery', () => {
  it('unions the shards; a label set from two shards is taken from the first listed, and counted', async () => {
    const dup: number[] = [];
    const q = new ShardedQuery(
      [server('a', () => [s('x', 1), s('y', 2)]), server('b', () => [s('y', 20), s('z', 3)])],
      0,
      { shardFailed: () => undefined, duplicateSeries: (_input, n) => void dup.push(n) },
    );
    const out = await q.run('subnet_demand', 'q', new Map());
    expect(out.map((x) => [x.labels.node, x.value])).toEqual([['x', 1], ['y', 2], ['z', 3]]);
    expect(dup).toEqual([1]);
  });

  it('label order does not make two series different', async () => {
    const q = new ShardedQuery([server('a', () => [{ labels: { node: 'x', subnet: 's' }, value: 1 }]), server('b', () => [{ labels: { subnet: 's', node: 'x' }, value: 9 }])], 0, undefined);
    expect(await q.run('subnet_demand', 'q', new Map())).toEqual([{ labels: { node: 'x', subnet: 's' }, value: 1 }]);
  });

  it('a failed shard: its last good answer stands in within holdMs, then the read fails; every failure recorded once per read', async () => {
    let now = 1_000;
    let bDown = false;
    const q = new ShardedQuery([server('a', () => [s('x', 1)]), server('b', () => (bDown ? new InputsUnavailable('backend_down', 'b refused') : [s('z', 3)]))], 5_000, undefined, () => now);
    expect(await q.run('subnet_demand', 'q1', new Map())).toHaveLength(2);
    bDown = true;
    now += 4_000;
    const failures: ShardFailures = new Map();
    expect((await q.run('subnet_demand', 'q1', failures)).map((x) => x.value)).toEqual([1, 3]);
    expect(failures.get('b')).toMatchObject({ standIn: 'last_good', error: { kind: 'backend_down' } });
    // A query b never answered has nothing to stand in: the read fails, naming the shard.
    await expect(q.run('subnet_rtt', 'q2', failures)).rejects.toThrow(/shard b: b refused \(no good answer within shard_hold 5s\)/);
    expect(failures.get('b')!.standIn).toBe('none');
    now += 2_000; // 6 s after b's last good answer
    await expect(q.run('subnet_demand', 'q1', new Map())).rejects.toMatchObject({ kind: 'backend_down' });
  });

  it('holdMs 0: a failed shard fails the read at once, with the error as one Prometheus gives it', async () => {
    const q = new ShardedQuery([server('only', () => new InputsUnavailable('timeout', 'subnet_demand: Prometheus at http://only failed: timeout'))], 0, undefined);
    await expect(q.run('subnet_demand', 'q', new Map())).rejects.toMatchObject({ kind: 'timeout', message: 'subnet_demand: Prometheus at http://only failed: timeout' });
  });

  it('a query that is wrong (no_data: not a vector) is never stood in for', async () => {
    let bad = false;
    const q = new ShardedQuery([server('a', () => (bad ? new InputsUnavailable('no_data', 'expected an instant vector') : [s('x', 1)]))], 60_000, undefined);
    await q.run('subnet_demand', 'q', new Map());
    bad = true;
    await expect(q.run('subnet_demand', 'q', new Map())).rejects.toMatchObject({ kind: 'no_data' });
  });
});
