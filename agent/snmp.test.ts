import { describe, expect, it } from 'vitest';
import { parsePassiveOpens, readPassiveOpens } from './snmp.ts';

describe('/proc/net/snmp PassiveOpens', () => {
  it('parses the Tcp header/value pair', () => {
    const text = 'Ip: Forwarding DefaultTTL\nIp: 1 64\nTcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails\nTcp: 1 200 120000 -1 10 4242 0\nUdp: InDatagrams\nUdp: 5\n';
    expect(parsePassiveOpens(text)).toBe(4242);
    expect(parsePassiveOpens('Tcp: A B\nTcp: 1\n')).toBeNull();
    expect(parsePassiveOpens('garbage')).toBeNull();
  });
  it.skipIf(process.platform !== 'linux')('reads this kernel\'s counter', () => {
    expect(readPassiveOpens()).toBeGreaterThanOrEqual(0);
  });
});
