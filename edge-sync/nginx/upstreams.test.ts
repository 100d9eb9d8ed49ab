import { describe, expect, it } from 'vitest';
import { desiredPools } from '../plan/desired.ts';
import { edgeConfig } from '../testing/fixtures.ts';
import { HEADER, parseUpstreamFile, renderUpstreamFile } from './upstreams.ts';

const cfg = edgeConfig([
  { lb: 'web', vip: '192.0.2.10', port: 80, origins: [{ name: 'eu', address: '10.0.0.1', port: 8080, weight: 0.9 }, { name: 'us', address: '2001:db8::2', port: 8080, weight: 0.1 }, { name: 'ap', address: '10.0.0.3', port: 8080, weight: 0.5, healthy: false }] },
]);
const pools = desiredPools(cfg, { poolName: '{load_balancer}_{port}', weightTotal: 1000 });
const opts = { directives: ['keepalive 16'], serverOptions: 'max_fails=2' };

describe('nginx upstream file', () => {
  it('renders weights (>= 1) and `down` for quiesced origins', () => {
    expect(renderUpstreamFile(pools, new Map(), opts)).toBe(
      `${HEADER}\nupstream web_80 {
    # listener 192.0.2.10:80, load balancer web
    keepalive 16;
    server 10.0.0.1:8080 weight=900 max_fails=2;  # origin eu
    server [2001:db8::2]:8080 weight=100 max_fails=2;  # origin us
    server 10.0.0.3:8080 down max_fails=2;  # origin ap
}
`,
    );
  });

  it('parses what it renders back into the actual state', () => {
    const parsed = parseUpstreamFile(renderUpstreamFile(pools, new Map(), opts));
    expect(parsed.pools).toEqual([{ name: 'web_80', servers: [
      { name: '10.0.0.1:8080', address: '10.0.0.1', port: 8080, weight: 900 },
      { name: '[2001:db8::2]:8080', address: '2001:db8::2', port: 8080, weight: 100 },
      { name: '10.0.0.3:8080', address: '10.0.0.3', port: 8080, weight: 0 },
    ] }]);
  });

  it('a held pool keeps its current block verbatim', () => {
    const current = 'upstream web_80 {\n    server 10.0.0.1:8080 weight=3;\n}\n';
    const held = [{ ...pools[0]!, hold: 'every share 0' }];
    const { blocks } = parseUpstreamFile(current);
    expect(renderUpstreamFile(held, blocks, opts)).toBe(`${HEADER}\n${current}`);
  });

  it('hand-written servers without weight count as weight 1', () => {
    expect(parseUpstreamFile('upstream x {\n  server 10.0.0.1:80;\n}\n').pools[0]!.servers[0]!.weight).toBe(1);
  });
});
