// model/plain-delta.ts, the hand-written check in front of the zod schema a DNS server parses
// /dns/view/changes answers with: on a corpus of malformed deltas (every field of a valid one
// removed, retyped, put out of range, or joined by an unknown key), the check never accepts what the
// schema refuses or would change (defaults), and decodeViewChange refuses each bad answer with exactly
// the schema's error, naming the field. Nothing of a refused answer is returned.
import { describe, expect, it } from 'vitest';
import { isPlainDelta } from '../model/plain-delta.ts';
import { ReceivedDnsViewChange } from '../model/view-changes.ts';
import { decodeViewChange } from '../dns/view-changes.ts';
import type { DnsView } from '../model/views.ts';

const HELD: DnsView = {
  version: 'v1', seq: 1, weights_version: 1,
  zones: [{ zone: 'example.com', records: [{ load_balancer_id: 'lb_1', hostname: 'a.example.com', ttl: 20, answers: 1, policy: 'latency', max_latency_ms: 300, origins: [], subnets: {} }, { load_balancer_id: 'lb_2', hostname: 'b.example.com', ttl: 20, answers: 1, policy: 'latency', max_latency_ms: 300, origins: [], subnets: {} }] }],
} as unknown as DnsView;

function valid(): Record<string, unknown> {
  return {
    kind: 'delta', from: 'v1', version: 'v2', seq: 2, weights_version: 7,
    records: [
      { zone: 0, record: 0, load_balancer_id: 'lb_1', meta: null, set: { maps: [{ or_1: 0.25, or_2: 0.75 }, { or_3: 1 }, {}], cidrs: ['10.0.0.0/24', '2001:db8::/48'], map: [0, 1] }, removed: ['10.9.0.0/24'] },
      { zone: 0, record: 1, load_balancer_id: 'lb_2', meta: null, set: { maps: [], cidrs: [], map: [] }, removed: [] },
    ],
  };
}

/** Every path to a value in `doc` (objects and arrays included). */
function paths(doc: unknown, at: (string | number)[] = []): (string | number)[][] {
  const out = [at];
  if (doc && typeof doc === 'object') for (const [k, v] of Object.entries(doc)) out.push(...paths(v, [...at, Array.isArray(doc) ? Number(k) : k]));
  return out;
}

const REPLACEMENTS: unknown[] = [null, 'x', '', -1, 1.5, 2, 0, 1, 2 ** 53, Number.NaN, true, {}, [], ['x'], [1], { a: 1 }, { or_1: 2 }, { or_1: -0.1 }, { or_1: '1' }, { kind: 'delta' }];

/** The corpus: each path removed, replaced by each value, and each object given an unknown key. */
function corpus(): unknown[] {
  const out: unknown[] = [];
  const base = valid();
  for (const p of paths(base)) {
    if (p.length === 0) continue;
    const edit = (f: (parent: Record<string | number, unknown>, key: string | number) => void) => {
      const doc = structuredClone(base) as Record<string | number, unknown>;
      let parent = doc;
      for (const k of p.slice(0, -1)) parent = parent[k] as Record<string | number, unknown>;
      f(parent, p[p.length - 1]!);
      out.push(doc);
    };
    edit((o, k) => (Array.isArray(o) ? o.splice(Number(k), 1) : delete o[k]));
    for (const v of REPLACEMENTS) edit((o, k) => (o[k] = structuredClone(v)));
    edit((o, k) => {
      const v = o[k];
      if (v && typeof v === 'object' && !Array.isArray(v)) (v as Record<string, unknown>).unexpected = 1;
    });
    edit((o, k) => {
      const v = o[k];
      if (v && typeof v === 'object' && !Array.isArray(v)) Object.assign(v, JSON.parse('{"__proto__": 0.5}'));
    });
  }
  // Whole documents that are not deltas, or not plain ones.
  out.push(null, 'delta', [], {}, { ...base, kind: 'full' }, { ...base, seq: undefined }, JSON.parse(JSON.stringify({ ...base, seq: undefined })));
  out.push({ ...base, records: [{ ...(base.records as object[])[0], meta: { hostname: 'a.example.com' } }] });
  return out;
}

function schemaError(doc: unknown): string | null {
  const r = ReceivedDnsViewChange.safeParse(doc);
  return r.success ? null : `here: not a DnsViewChange: ${r.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`;
}

describe('isPlainDelta (hand-written check before the schema)', () => {
  it('accepts a valid delta, and the schema returns that delta unchanged', () => {
    const doc = valid();
    expect(isPlainDelta(doc)).toBe(true);
    const r = ReceivedDnsViewChange.safeParse(doc);
    expect(r.success && r.data).toEqual(doc);
  });

  it('on a corpus of malformed deltas, accepts only what the schema accepts unchanged; each refusal is the schema\'s error', () => {
    const docs = corpus();
    expect(docs.length).toBeGreaterThan(500);
    let refused = 0;
    let fastAccepted = 0;
    for (const doc of docs) {
      const r = ReceivedDnsViewChange.safeParse(doc);
      if (isPlainDelta(doc)) {
        fastAccepted++;
        expect(r.success, JSON.stringify(doc)).toBe(true);
        expect(r.data, JSON.stringify(doc)).toEqual(doc);
      }
      const err = schemaError(doc);
      if (err === null) continue;
      refused++;
      expect(() => decodeViewChange(doc, HELD, 'here'), JSON.stringify(doc)).toThrow(err);
    }
    // The corpus exercises both sides: many refusals, and valid variants the check itself accepted.
    expect(refused).toBeGreaterThan(300);
    expect(fastAccepted).toBeGreaterThan(20);
  });

  it('names the field in the error (a share out of range, a missing key, an unknown key)', () => {
    const bad = valid();
    ((bad.records as { set: { maps: Record<string, number>[] } }[])[0]!.set.maps[0]!).or_1 = 3;
    expect(() => decodeViewChange(bad, HELD, 'here')).toThrow(/records\.0\.set\.maps\.0\.or_1:/);
    const missing = valid();
    delete (missing.records as Record<string, unknown>[])[1]!.removed;
    expect(() => decodeViewChange(missing, HELD, 'here')).toThrow(/records\.1\.removed:/);
    expect(() => decodeViewChange({ ...valid(), extra: 1 }, HELD, 'here')).toThrow(/extra/);
  });

  it('a delta whose record meta changed, or with seq left out, still goes through the schema (its defaults and checks)', () => {
    const { seq: _, ...noSeq } = valid();
    expect(isPlainDelta(noSeq)).toBe(false);
    expect(decodeViewChange(noSeq, HELD, 'here').seq).toBe(null);
    const decoded = decodeViewChange(valid(), HELD, 'here');
    expect(decoded.delta?.changes[0]?.set.cidrs).toEqual(['10.0.0.0/24', '2001:db8::/48']);
    expect(decoded.seq).toBe(2);
  });
});
