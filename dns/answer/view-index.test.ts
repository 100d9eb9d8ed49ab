// The index builder's pacing hook: called as promised while a large view is indexed, and the index it
// builds is the one built without it (a server answers queries inside the hook: it must not matter).
import { describe, expect, it } from 'vitest';
import { record, threeOrigins, view } from '../testing/fixtures.ts';
import { buildViewIndex, PACE_EVERY, type Authority } from './view-index.ts';

const AUTHORITY: Authority = { primaryNs: undefined, hostmaster: undefined, nameservers: [], soaTtl: 3600, nsTtl: 3600, negativeTtl: 30, refresh: 3600, retry: 600, expire: 1209600 };

describe('buildViewIndex pacing', () => {
  it(`calls pace every ${PACE_EVERY} learned subnets and after each record, and builds the same index`, () => {
    const subnets: Record<string, Record<string, number>> = {};
    for (let i = 0; i < 1000; i++) subnets[`10.${i >> 8}.${i & 255}.0/24`] = { 'eu-london': (i % 7) + 1, 'us-east': 1 };
    const v = view('example.com', [record('app.example.com', threeOrigins(), { subnets }), record('cold.example.com', threeOrigins())]);
    let calls = 0;
    const paced = buildViewIndex(v, AUTHORITY, 0, () => calls++);
    expect(calls).toBe(Math.floor(1000 / PACE_EVERY) + 2);
    const plain = buildViewIndex(v, AUTHORITY, 0);
    // learnedChoice(OfText) are closures per record (never equal across builds); everything else must be.
    const strip = (i: typeof plain) => ({ ...i, records: new Map([...i.records].map(([k, r]) => [k, { ...r, learnedChoice: null, learnedChoiceOfText: null }])), byHash: null });
    expect(strip(paced)).toEqual(strip(plain));
    expect(paced.records.get([...paced.records.keys()][0]!)!.learned.size).toBe(1000);
  });
});
