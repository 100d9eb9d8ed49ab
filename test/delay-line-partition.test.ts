// The delay line's partitions, on the real kernel: packets between two namespaces are dropped both
// ways while a partition is in force (a TCP exchange that worked times out), every other pair is
// untouched, and healing restores the path; changed at run time, without restarting anything.
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unavailable } from './helpers/env.ts';
import { DelayLine } from './delay-line/index.ts';

const skip = unavailable({ root: true, tools: { ip: 'iproute2' } });
const ECHO = fileURLToPath(new URL('./delay-line/tcp-echo.mjs', import.meta.url));

/** A TCP round trip from `from` to the echo server at a: 'ok', or why not (within 800 ms). */
const PING = `const s=require('net').connect({host:process.argv[1],port:7000,timeout:800},()=>s.write('ping'));s.on('data',()=>{process.stdout.write('ok');process.exit(0)});s.on('timeout',()=>{process.stdout.write('timeout');process.exit(1)});s.on('error',e=>{process.stdout.write(e.code);process.exit(1)})`;

describe.skipIf(skip)('delay line partitions (runtime-controllable drops per pair)', () => {
  let line: DelayLine;
  const ping = async (from: string) => (await line.exec(from, process.execPath, ['-e', PING, '10.203.0.1'], 5000)).stdout;

  beforeAll(async () => {
    line = await DelayLine.create({
      namespaces: [
        { label: 'a', addresses: ['10.203.0.1/24'] },
        { label: 'b', addresses: ['10.203.1.1/24'] },
        { label: 'c', addresses: ['10.203.2.1/24'] },
      ],
      delayMs: { a: { b: 5, c: 5 } },
    });
    const echo = line.spawn('a', process.execPath, [ECHO, '10.203.0.1', '7000']);
    await new Promise<void>((resolve) => echo.stdout!.on('data', (d: Buffer) => d.toString().includes('listening') && resolve()));
  }, 30_000);

  afterAll(async () => {
    await line?.destroy();
    expect(line?.leftovers() ?? []).toEqual([]);
  });

  it('cuts a<->b only, and heals', async () => {
    expect(await ping('b')).toBe('ok');
    expect(await ping('c')).toBe('ok');
    await line.setPartitions([['a', 'b']]);
    expect(await ping('b')).toBe('timeout');
    expect(await ping('c')).toBe('ok');
    await line.setPartitions([]);
    expect(await ping('b')).toBe('ok');
    expect(line.forwarderOutput()).not.toMatch(/bad command/);
    await expect(line.setPartitions([['a', 'nowhere']])).rejects.toThrow(/no namespace "nowhere"/);
  }, 30_000);
});
