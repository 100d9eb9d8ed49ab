// Property test of the pure core on random and mutated packets (seeded with the differential battery
// and with correctly signed queries): it never throws, and every answer it gives
// - is a well-formed DNS response (decodes with compression checks) with the query's ID and opcode;
// - echoes the question byte for byte whenever the query's question was readable;
// - carries OPT whenever the query carried one (RFC 6891 §7), on every error path;
// - to a readable TSIG-signed query, is never a positive answer without a TSIG of its own.
// Run once unsigned and once with the zone DNSSEC-signed (DO seeds then reach the signing paths).
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../lib/prng.ts';
import { FUZZ_SEEDS, fuzzPacket } from '../testing/fuzz.ts';
import { GEOIP_TEST_DB, record, threeOrigins, view } from '../testing/fixtures.ts';
import { buildQuery, decodeResponse, signQuery } from '../testing/packets.ts';
import { nameToWireKey, RCODE } from '../wire/constants.ts';
import { PARSE, parseQuery } from '../wire/query.ts';
import { HMAC_SHA256, TsigKeyring } from '../wire/tsig.ts';
import { memoryKey, testSigner } from '../testing/dnssec.ts';
import { GeoLocator } from './geo.ts';
import { Responder } from './respond.ts';
import { buildViewIndex } from './view-index.ts';

const NOW_S = 1_800_000_000;
const SECRET = Buffer.alloc(32, 9).toString('base64');

describe('respond() under random and mutated input', () => {
  it.each(['unsigned', 'DNSSEC-signed'])('never throws; answers are well formed, echo the question, keep OPT, and sign what was signed (60,000 packets, %s zone)', (kind) => {
    const geo = GeoLocator.open(fileURLToPath(GEOIP_TEST_DB), []);
    const dnssec = kind === 'unsigned' ? undefined : testSigner([memoryKey('example.com')], { ms: NOW_S * 1000 });
    const r = new Responder({
      ...(dnssec ? { dnssec } : {}),
      geo,
      limits: { ipv4: 24, ipv6: 56 },
      udpPayloadSize: 1232,
      now: () => NOW_S * 1000,
      tsigKeys: new TsigKeyring([{ name: nameToWireKey('key.example.com'), algorithm: HMAC_SHA256, secret: Buffer.from(SECRET, 'base64') }]),
    });
    r.setIndex(buildViewIndex(view('example.com', [record('app.example.com', threeOrigins(), { subnets: { '10.0.0.0/8': { 'eu-london': 0.5, 'us-west': 0.5 } } })]), {
      primaryNs: undefined, hostmaster: undefined, nameservers: [], soaTtl: 3600, nsTtl: 3600, negativeTtl: 30, refresh: 1, retry: 1, expire: 1,
    }));
    const signed = (spec: Parameters<typeof buildQuery>[0]) => signQuery(buildQuery(spec), { keyName: 'key.example.com', secret: SECRET, timeSigned: NOW_S });
    const seeds = [
      ...FUZZ_SEEDS,
      signed({ name: 'app.example.com', edns: { ecs: { address: '10.1.2.0', source: 24 } } }),
      signed({ name: 'nope.example.com', edns: {} }),
      signed({ name: 'example.com', qtype: 6 }),
    ];
    const rand = seededRandom(0x5eed);
    let answered = 0;
    let withOpt = 0;
    let signedAnswers = 0;
    for (let i = 0; i < 60_000; i++) {
      // One packet in ten is a seed as is, so valid (and validly signed) queries are in the mix too.
      const pkt = rand() < 0.1 ? seeds[Math.floor(rand() * seeds.length)]! : fuzzPacket(rand, seeds);
      const query = parseQuery(pkt);
      const out = r.respond(pkt, rand() < 0.5 ? 'udp' : 'tcp', { family: 4, v4: 0x0a000001, v6: new Uint8Array(16) });
      if (!out) {
        expect(query.status).toBe(PARSE.DROP);
        continue;
      }
      answered++;
      const d = decodeResponse(out);
      expect(d.qr).toBe(true);
      expect(d.id).toBe(pkt.readUInt16BE(0));
      expect((out.readUInt16BE(2) >> 11) & 0xf).toBe(query.opcode);
      if (query.hasQuestion) expect(out.subarray(12, query.questionEnd).equals(pkt.subarray(12, query.questionEnd))).toBe(true);
      if (query.edns) {
        expect(d.opt, `no OPT in the answer to ${pkt.toString('hex')}`).not.toBeNull();
        withOpt++;
      }
      if (query.status === PARSE.OK && query.tsig && (d.rcode === RCODE.NOERROR || d.rcode === RCODE.NXDOMAIN)) {
        expect(d.tsig, `unsigned positive answer to a signed query ${pkt.toString('hex')}`).not.toBeNull();
        signedAnswers++;
      }
    }
    expect(answered).toBeGreaterThan(10_000);
    expect(withOpt).toBeGreaterThan(5_000);
    expect(signedAnswers).toBeGreaterThan(100);
    expect(r.stats.malformedDropped + r.stats.malformedFormerr).toBeGreaterThan(10_000);
    expect(r.stats.tsig[1]! + r.stats.tsig[2]!).toBeGreaterThan(100); // badkey + badsig
    if (dnssec) expect(dnssec.stats.signatures).toBeGreaterThan(20); // the signing paths ran
  });
});
