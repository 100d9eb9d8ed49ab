// Which UDP path `udp_io` selects, and the exclusive claim that keeps SO_REUSEPORT from silently
// sharing a port with another server.
import dgram from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../lib/config-file.ts';
import { claimUdpAddresses, resolveUdpIo } from './udp-io.ts';

const here = () => null;
const elsewhere = () => 'needs Linux on x64 or arm64, this is darwin/arm64';

describe('resolveUdpIo', () => {
  it.each([
    ['auto', here, 'recvmmsg'],
    ['auto', elsewhere, 'dgram'],
    ['recvmmsg', here, 'recvmmsg'],
    ['dgram', here, 'dgram'],
    ['dgram', elsewhere, 'dgram'],
  ] as const)('udp_io: %s where the batched path is %s -> %s', (udp_io, unavailable, expected) => {
    expect(resolveUdpIo({ udp_io }, 'dns.yaml', unavailable)).toBe(expected);
  });

  it('an explicit recvmmsg where it cannot run is a config error naming the key and why', () => {
    const run = () => resolveUdpIo({ udp_io: 'recvmmsg' }, 'dns.yaml', elsewhere);
    expect(run).toThrow(ConfigError);
    expect(run).toThrow(/dns\.yaml: udp_io: recvmmsg is not available here \(needs Linux on x64 or arm64, this is darwin\/arm64\); use auto or dgram/);
  });
});

describe('claimUdpAddresses', () => {
  it('resolves port 0 to a concrete port and leaves the port free again', async () => {
    const [a] = await claimUdpAddresses([{ host: '127.0.0.1', port: 0 }]);
    expect(a!.port).toBeGreaterThan(0);
    const again = await claimUdpAddresses([a!]);
    expect(again).toEqual([a]);
  });

  it('fails when anyone already holds the address', async () => {
    const other = dgram.createSocket('udp4');
    await new Promise<void>((r) => other.bind(0, '127.0.0.1', () => r()));
    try {
      await expect(claimUdpAddresses([{ host: '127.0.0.1', port: other.address().port }])).rejects.toThrow(/EADDRINUSE/);
    } finally {
      other.close();
    }
  });
});
