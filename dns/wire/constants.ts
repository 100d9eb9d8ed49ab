// DNS wire constants (RFC 1035, 6891, 7871). Plain objects, not enums: they inline well and need no
// runtime beyond a property read.
export const TYPE = { A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, MX: 15, TXT: 16, AAAA: 28, SRV: 33, OPT: 41, TKEY: 249, TSIG: 250, IXFR: 251, AXFR: 252, ANY: 255 } as const;
export const CLASS_IN = 1;
/** QCLASS * (RFC 1035 §3.2.5): answered like IN, as knot and gdnsd do. */
export const CLASS_ANY = 255;
export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5, NOTAUTH: 9, BADVERS: 16 } as const;
/** The TSIG RR's own ERROR field (RFC 8945 §3); the header then says NOTAUTH. */
export const TSIG_ERROR = { BADSIG: 16, BADKEY: 17, BADTIME: 18, BADTRUNC: 22 } as const;
export const OPT_CODE_ECS = 8;
export const HEADER_LEN = 12;
/** RFC 1035 §4.2.1: without EDNS a UDP answer is at most 512 bytes. */
export const CLASSIC_UDP_MAX = 512;
export const MAX_NAME_WIRE = 255;

export function qtypeName(qtype: number): string {
  switch (qtype) {
    case TYPE.A: return 'A';
    case TYPE.AAAA: return 'AAAA';
    case TYPE.SOA: return 'SOA';
    case TYPE.NS: return 'NS';
    case TYPE.ANY: return 'ANY';
    case TYPE.CNAME: return 'CNAME';
    case TYPE.MX: return 'MX';
    case TYPE.TXT: return 'TXT';
    case TYPE.PTR: return 'PTR';
    case TYPE.SRV: return 'SRV';
    case TYPE.AXFR: return 'AXFR';
    case TYPE.IXFR: return 'IXFR';
    default: return 'OTHER';
  }
}

export function rcodeName(rcode: number): string {
  switch (rcode) {
    case RCODE.NOERROR: return 'NOERROR';
    case RCODE.FORMERR: return 'FORMERR';
    case RCODE.SERVFAIL: return 'SERVFAIL';
    case RCODE.NXDOMAIN: return 'NXDOMAIN';
    case RCODE.NOTIMP: return 'NOTIMP';
    case RCODE.REFUSED: return 'REFUSED';
    case RCODE.NOTAUTH: return 'NOTAUTH';
    case RCODE.BADVERS: return 'BADVERS';
    default: return `RCODE${rcode}`;
  }
}

/** "app.example.com" -> wire format bytes as a latin1 string ("\x03app\x07example\x03com\x00"); the map key of the fast path. */
export function nameToWireKey(name: string): string {
  const clean = name.toLowerCase().replace(/\.$/, '');
  if (clean === '') return '\x00';
  let out = '';
  for (const label of clean.split('.')) out += String.fromCharCode(label.length) + label;
  return `${out}\x00`;
}

/** Inverse of nameToWireKey for a lower-cased wire key: "\x03app\x03com\x00" -> "app.com" ("" for the root). */
export function wireKeyToName(key: string): string {
  const labels: string[] = [];
  let i = 0;
  while (i < key.length) {
    const len = key.charCodeAt(i);
    if (len === 0) break;
    labels.push(key.slice(i + 1, i + 1 + len));
    i += 1 + len;
  }
  return labels.join('.');
}
