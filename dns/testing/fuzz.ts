// Random and mutated DNS packets for fuzz tests (deterministic: feed them lib/prng.ts's seededRandom).
// The seeds are a few plain queries plus the whole differential battery, so mutations start from
// every path it reaches: OPT on errors, TSIG, unknown opcodes, malformed OPT and ECS.
import { BATTERY } from './battery.ts';
import { buildQuery } from './packets.ts';

export function fuzzPacket(rand: () => number, seeds: Buffer[]): Buffer {
  const r = rand();
  if (r < 0.2) {
    const b = Buffer.alloc(Math.floor(rand() * 80));
    for (let i = 0; i < b.length; i++) b[i] = Math.floor(rand() * 256);
    return b;
  }
  const base = Buffer.from(seeds[Math.floor(rand() * seeds.length)]!);
  if (r < 0.35) return base.subarray(0, Math.floor(rand() * base.length)); // truncated
  const flips = 1 + Math.floor(rand() * 4);
  for (let i = 0; i < flips; i++) base[Math.floor(rand() * base.length)] = Math.floor(rand() * 256);
  if (r > 0.9) return Buffer.concat([base, Buffer.from([Math.floor(rand() * 256), 0, 41])]);
  return base;
}

export const FUZZ_SEEDS = [
  buildQuery({ name: 'app.example.com' }),
  buildQuery({ name: 'app.example.com', qtype: 28, edns: { ecs: { address: '2001:db8:aaaa:5600::', source: 56 } } }),
  buildQuery({ name: 'app.example.com', edns: { udpSize: 512, ecs: { address: '10.1.2.0', source: 24 } } }),
  buildQuery({ name: 'example.com', qtype: 6, edns: {} }),
  buildQuery({ name: 'nope.example.com', qtype: 2 }),
  ...BATTERY.map((q) => q.packet),
  buildQuery({ name: 'app.example.com', edns: { dnssecOk: true, ecs: { address: '10.1.2.0', source: 24 } } }),
  buildQuery({ name: 'example.com', qtype: 48, edns: { dnssecOk: true, compactOk: true } }),
];

