import { describe, expect, it } from 'vitest';
import { edgeConfig } from '../testing/fixtures.ts';
import { withLocalExclusions } from './local-fallback.ts';

const cfg = edgeConfig([
  { lb: 'web', vip: '192.0.2.1', port: 80, origins: [{ name: 'near', port: 1, weight: 0.6 }, { name: 'far', port: 2, weight: 0.3 }, { name: 'other', port: 3, weight: 0.1, healthy: false }] },
  { lb: 'api', vip: '192.0.2.1', port: 81, origins: [{ name: 'far', port: 2, weight: 1 }] },
]);
const shares = (c: typeof cfg, i: number) => c.listeners[i]!.origins.map((o) => [o.name, Math.round(o.weight * 1000) / 1000, o.reachable]);

describe('withLocalExclusions (the edge-side fallback rule)', () => {
  it('drops what this edge sees down and spreads its share over the usable rest', () => {
    const { config, dropped } = withLocalExclusions(cfg, new Set(['o-near']));
    expect(shares(config, 0)).toEqual([['near', 0, false], ['far', 1, true], ['other', 0, true]]);
    expect(dropped).toEqual([{ listener: '192.0.2.1:80', loadBalancer: 'web', origin: 'near' }]);
    // A listener the origin is not in is left alone.
    expect(config.listeners[1]).toBe(cfg.listeners[1]);
  });

  it('never empties a listener: if every origin with a share is down here, the control plane’s weights stay', () => {
    const { config, dropped } = withLocalExclusions(cfg, new Set(['o-far']));
    expect(config.listeners[1]).toBe(cfg.listeners[1]);
    expect(dropped.map((d) => d.loadBalancer)).toEqual(['web']);
  });

  it('nothing down: the config as it is', () => {
    expect(withLocalExclusions(cfg, new Set()).config).toBe(cfg);
  });
});
