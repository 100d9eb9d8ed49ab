// Property test of the pure core on random and mutated packets: never throws, and every answer it
// does give is a well-formed DNS response (decodes with compression checks) carrying the query's ID.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { decodeResponse } from '../testing/packets.ts';
import { seededRandom } from '../../lib/prng.ts';
import { FUZZ_SEEDS, fuzzPacket } from '../testing/fuzz.ts';
import { GEOIP_TEST_DB, record, threeOrigins, view } from '../testing/fixtures.ts';
import { GeoLocator } from './geo.ts';
import { Responder } from './respond.ts';
import { buildViewIndex } from './view-index.ts';

describe('respond() under random and mutated input', () => {
  it('never throws and only emits well-formed responses echoing the ID (50,000 packets)', () => {
    const geo = GeoLocator.open(fileURLToPath(GEOIP_TEST_DB), []);
    const r = new Responder({ geo, limits: { ipv4: 24, ipv6: 56 }, udpPayloadSize: 1232 });
    r.setIndex(buildViewIndex(view('example.com', [record('app.example.com', threeOrigins(), { subnets: { '10.0.0.0/8': { 'eu-london': 0.5, 'us-west': 0.5 } } })]), {
      primaryNs: undefined, hostmaster: undefined, nameservers: [], soaTtl: 3600, nsTtl: 3600, negativeTtl: 30, refresh: 1, retry: 1, expire: 1,
    }));
    const rand = seededRandom(0x5eed);
    let answered = 0;
    for (let i = 0; i < 50_000; i++) {
      const pkt = fuzzPacket(rand, FUZZ_SEEDS);
      const out = r.respond(pkt, rand() < 0.5 ? 'udp' : 'tcp', { family: 4, v4: 0x0a000001, v6: new Uint8Array(16) });
      if (!out) continue;
      answered++;
      const d = decodeResponse(out);
      expect(d.qr).toBe(true);
      expect(d.id).toBe(pkt.readUInt16BE(0));
    }
    expect(answered).toBeGreaterThan(10_000);
    expect(r.stats.malformedDropped + r.stats.malformedFormerr).toBeGreaterThan(10_000);
  });
});
