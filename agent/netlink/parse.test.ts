import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCounts } from '../errors.ts';
import type { SocketRecord } from '../collector.ts';
import { NLM_F_DUMP_INTR, TCP_STATE } from './constants.ts';
import { doneMsg, errorMsg, nlmsg, sockMsg, diagMsg } from './fixtures.ts';
import { parseDiagDatagram } from './parse.ts';
import { buildDumpRequest } from './request.ts';
import { SockDiagCollector } from './sock-diag.ts';
import { parseTcpInfo } from './tcp-info.ts';

const SEQ = 77;

function parse(buf: Buffer, seq = SEQ) {
  const out: SocketRecord[] = [];
  const errors = new ErrorCounts();
  const outcome = parseDiagDatagram(buf, buf.length, seq, out, errors);
  return { out, errors, outcome };
}

describe('dump request', () => {
  it('is an nlmsghdr + inet_diag_req_v2 asking for tcp_info and the wanted states', () => {
    const req = buildDumpRequest(10, 5);
    expect(req.length).toBe(16 + 56);
    expect(req.readUInt32LE(0)).toBe(72);
    expect(req.readUInt16LE(4)).toBe(20); // SOCK_DIAG_BY_FAMILY
    expect(req.readUInt16LE(6)).toBe(0x301); // REQUEST | DUMP
    expect(req.readUInt32LE(8)).toBe(5);
    expect(req[16]).toBe(10); // AF_INET6
    expect(req[17]).toBe(6); // IPPROTO_TCP
    expect(req[18]).toBe(2); // 1 << (INET_DIAG_INFO - 1)
    const states = req.readUInt32LE(20);
    expect(states & (1 << TCP_STATE.ESTABLISHED)).toBeTruthy();
    expect(states & (1 << TCP_STATE.LISTEN)).toBe(0);
    expect(states & (1 << TCP_STATE.SYN_RECV)).toBe(0);
  });
});

describe('sock_diag datagram parser (constructed fixtures)', () => {
  it('parses a multipart stream of IPv4 and IPv6 sockets up to NLMSG_DONE', () => {
    const buf = Buffer.concat([
      sockMsg(SEQ, { family: 4, local: '192.0.2.1', localPort: 443, remote: '198.51.100.7', remotePort: 50000, cookie: 2 ** 40 + 5, uid: 33, inode: 999, tcpInfoLen: 232, rttUs: 40_123, rttVarUs: 500, minRttUs: 39_800, lastAckRecvMs: 12, bytesAcked: 2 ** 33 + 1 }),
      sockMsg(SEQ, { family: 6, local: '2001:db8::1', localPort: 443, remote: '2001:db8:5:6::9', remotePort: 40000, cookie: 3, tcpInfoLen: 232, rttUs: 120_000 }),
      doneMsg(SEQ),
    ]);
    const { out, errors, outcome } = parse(buf);
    expect(outcome).toEqual({ done: true, messages: 3 });
    expect(errors.total()).toBe(0);
    expect(out).toEqual([
      { id: 2 ** 40 + 5, family: 4, state: 1, localAddr: '192.0.2.1', localPort: 443, remoteAddr: '198.51.100.7', remotePort: 50000, uid: 33, inode: 999, rttUs: 40_123, rttVarUs: 500, minRttUs: 39_800, lastAckRecvMs: 12, bytesAcked: 2 ** 33 + 1, bytesReceived: 0, totalRetrans: 0 },
      { id: 3, family: 6, state: 1, localAddr: '2001:db8::1', localPort: 443, remoteAddr: '2001:db8:5:6::9', remotePort: 40000, uid: 0, inode: 0, rttUs: 120_000, rttVarUs: 0, minRttUs: 0, lastAckRecvMs: 0, bytesAcked: 0, bytesReceived: 0, totalRetrans: 0 },
    ]);
  });

  it('with a port filter, keeps only sockets on a service port (local) or an upstream port (remote)', () => {
    const buf = Buffer.concat([
      sockMsg(SEQ, { family: 4, local: '10.0.0.1', localPort: 443, remote: '10.0.1.1', remotePort: 50000 }),
      sockMsg(SEQ, { family: 4, local: '10.0.0.1', localPort: 50001, remote: '10.0.2.2', remotePort: 5432 }),
      sockMsg(SEQ, { family: 4, local: '10.0.0.1', localPort: 50002, remote: '10.0.3.3', remotePort: 22 }),
      doneMsg(SEQ),
    ]);
    const out: SocketRecord[] = [];
    const errors = new ErrorCounts();
    const outcome = parseDiagDatagram(buf, buf.length, SEQ, out, errors, { localPorts: new Set([443]), remotePorts: new Set([5432]) });
    expect(outcome).toEqual({ done: true, messages: 4 });
    expect(out.map((s) => s.remoteAddr)).toEqual(['10.0.1.1', '10.0.2.2']);
    expect(errors.total()).toBe(0);
  });

  it('unmaps IPv4-mapped IPv6 addresses (dual-stack listeners)', () => {
    const { out } = parse(sockMsg(SEQ, { family: 6, local: '::ffff:192.0.2.1', localPort: 80, remote: '::ffff:203.0.113.9', remotePort: 1234 }));
    expect(out[0]).toMatchObject({ family: 4, localAddr: '192.0.2.1', remoteAddr: '203.0.113.9' });
  });

  it('reads an old kernel\'s short tcp_info (104 bytes): later fields are absent, not garbage', () => {
    const { out, errors } = parse(sockMsg(SEQ, { family: 4, local: '10.0.0.1', localPort: 80, remote: '10.0.1.1', remotePort: 999, tcpInfoLen: 104, rttUs: 25_000, minRttUs: 1, bytesAcked: 7 }));
    expect(errors.total()).toBe(0);
    expect(out[0]!.rttUs).toBe(25_000);
    expect(out[0]!.minRttUs).toBeUndefined(); // min_rtt is at offset 148
    expect(out[0]!.bytesAcked).toBeUndefined(); // bytes_acked is at offset 120
    // tcp_info cut in the middle of tcpi_rtt (offset 68..72): rtt absent too.
    const info = parseTcpInfo(Buffer.alloc(70), 0, 70)!;
    expect(info.rttUs).toBeUndefined();
    expect(info.lastAckRecvMs).toBe(0);
  });

  it('a socket without INET_DIAG_INFO (e.g. TIME_WAIT) has no RTT', () => {
    const { out } = parse(sockMsg(SEQ, { family: 4, state: TCP_STATE.TIME_WAIT, local: '10.0.0.1', localPort: 80, remote: '10.0.1.1', remotePort: 9 }));
    expect(out[0]).toMatchObject({ state: TCP_STATE.TIME_WAIT });
    expect(out[0]!.rttUs).toBeUndefined();
  });

  it('reports NLMSG_ERROR as a finished, failed dump and counts it', () => {
    const { outcome, errors } = parse(errorMsg(SEQ, 22));
    expect(outcome).toEqual({ done: true, error: -22, messages: 1 });
    expect(errors.get('netlink_error')).toBe(1);
  });

  it('skips messages from another request (sequence number) and counts them', () => {
    const { out, errors, outcome } = parse(Buffer.concat([sockMsg(SEQ - 1, { family: 4, local: '10.0.0.1', localPort: 1, remote: '10.0.0.2', remotePort: 2 }), doneMsg(SEQ)]));
    expect(out).toEqual([]);
    expect(outcome.done).toBe(true);
    expect(errors.get('unexpected_message')).toBe(1);
  });

  it('counts NLM_F_DUMP_INTR (table changed during the dump) but keeps the data', () => {
    const m = nlmsg(20, 2 | NLM_F_DUMP_INTR, SEQ, diagMsg({ family: 4, local: '10.0.0.1', localPort: 1, remote: '10.0.0.2', remotePort: 2 }));
    const { out, errors } = parse(m);
    expect(out).toHaveLength(1);
    expect(errors.get('dump_interrupted')).toBe(1);
  });

  it('stops at a message whose length runs past the datagram (truncated), keeping earlier sockets', () => {
    const good = sockMsg(SEQ, { family: 4, local: '10.0.0.1', localPort: 1, remote: '10.0.0.2', remotePort: 2 });
    const cut = sockMsg(SEQ, { family: 4, local: '10.0.0.3', localPort: 1, remote: '10.0.0.4', remotePort: 2, tcpInfoLen: 232 }).subarray(0, 60);
    const { out, errors, outcome } = parse(Buffer.concat([good, cut]));
    expect(out).toHaveLength(1);
    expect(outcome.done).toBe(false);
    expect(errors.get('truncated_message')).toBe(1);
  });

  it('rejects a too-short nlmsg_len, a short inet_diag_msg, an unknown family and a bad rtattr', () => {
    const bad = Buffer.alloc(16);
    bad.writeUInt32LE(8, 0);
    expect(parse(bad).errors.get('bad_message_length')).toBe(1);
    expect(parse(nlmsg(20, 2, SEQ, Buffer.alloc(40))).errors.get('short_diag_msg')).toBe(1);
    const fam = diagMsg({ family: 4, local: '10.0.0.1', localPort: 1, remote: '10.0.0.2', remotePort: 2 });
    fam[0] = 99;
    expect(parse(nlmsg(20, 2, SEQ, fam)).errors.get('bad_family')).toBe(1);
    const rta = diagMsg({ family: 4, local: '10.0.0.1', localPort: 1, remote: '10.0.0.2', remotePort: 2, tcpInfoLen: 232, rttUs: 5 });
    rta.writeUInt16LE(2000, 72); // rta_len beyond the message
    const r = parse(nlmsg(20, 2, SEQ, rta));
    expect(r.errors.get('bad_attribute')).toBe(1);
    expect(r.out).toHaveLength(1); // addresses are still good
    expect(r.out[0]!.rttUs).toBeUndefined();
  });

  it('never throws on random garbage or any truncation of a valid stream', () => {
    const valid = Buffer.concat([
      sockMsg(SEQ, { family: 6, local: '2001:db8::1', localPort: 443, remote: '2001:db8::2', remotePort: 1, tcpInfoLen: 232, rttUs: 9 }),
      sockMsg(SEQ, { family: 4, local: '10.0.0.1', localPort: 443, remote: '10.0.0.2', remotePort: 1, tcpInfoLen: 104, rttUs: 9 }),
      doneMsg(SEQ),
    ]);
    for (let cut = 0; cut <= valid.length; cut++) expect(() => parse(valid.subarray(0, cut))).not.toThrow();
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
    for (let i = 0; i < 2000; i++) {
      const b = Buffer.from(valid);
      for (let k = 0; k < 8; k++) b[rnd() % b.length] = rnd();
      expect(() => parse(b)).not.toThrow();
      const junk = Buffer.alloc(rnd() * 2);
      for (let k = 0; k < junk.length; k++) junk[k] = rnd();
      expect(() => parse(junk)).not.toThrow();
    }
  });
});

describe.skipIf(process.platform !== 'linux')('live dump through koffi (this kernel)', () => {
  let server: Server;
  let client: Socket;
  let port = 0;

  beforeAll(async () => {
    server = createServer((c) => c.on('data', (d) => c.write(d)));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
    client = connect(port, '127.0.0.1');
    await new Promise<void>((r) => client.once('connect', r));
    await new Promise<void>((r) => {
      client.once('data', () => r());
      client.write('ping');
    });
  });
  afterAll(() => {
    client.destroy();
    server.close();
  });

  it('finds both ends of a loopback connection with tcp_info and a kernel cookie', () => {
    const collector = new SockDiagCollector();
    const errors = new ErrorCounts();
    try {
      const { sockets, complete } = collector.collect(errors);
      expect(complete).toBe(true);
      expect(errors.total()).toBe(0);
      const serverSide = sockets.find((s) => s.localPort === port && s.remotePort === client.localPort);
      const clientSide = sockets.find((s) => s.remotePort === port && s.localPort === client.localPort);
      expect(serverSide).toMatchObject({ family: 4, state: TCP_STATE.ESTABLISHED, localAddr: '127.0.0.1', remoteAddr: '127.0.0.1', uid: process.getuid!() });
      expect(clientSide).toBeDefined();
      expect(serverSide!.rttUs).toBeGreaterThan(0);
      expect(serverSide!.minRttUs).toBeGreaterThan(0); // this kernel sends a full tcp_info
      expect(serverSide!.bytesReceived).toBe(4);
      expect(serverSide!.id).not.toBe(clientSide!.id);
      // The cookie is stable across dumps: it is what first-seen tracking keys on.
      const again = collector.collect(errors).sockets.find((s) => s.localPort === port && s.remotePort === client.localPort);
      expect(again!.id).toBe(serverSide!.id);
    } finally {
      collector.close();
    }
  });
  it('a server-closed connection keeps its cookie in TIME_WAIT (so demand is never counted twice)', async () => {
    let accepted: Socket | undefined;
    const srv = createServer((s) => {
      accepted = s;
      s.on('error', () => {});
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const p = (srv.address() as { port: number }).port;
    const c = connect(p, '127.0.0.1');
    c.on('error', () => {});
    c.on('end', () => c.end());
    const collector = new SockDiagCollector();
    try {
      await new Promise<void>((r) => c.once('connect', () => r()));
      // The server's side of this one connection: its local port alone could also match a socket left
      // in TIME_WAIT by an earlier connection to a server that had the same ephemeral port.
      const clientPort = c.localPort; // read now: a closed socket no longer has one
      const dump = () => collector.collect(new ErrorCounts()).sockets.filter((s) => s.localPort === p && s.remotePort === clientPort);
      let first: SocketRecord[] = [];
      for (let i = 0; i < 100 && first.length === 0; i++) {
        first = dump();
        if (!first.length) await new Promise((r) => setTimeout(r, 10));
      }
      expect(first.map((s) => s.state)).toEqual([TCP_STATE.ESTABLISHED]);
      accepted!.end();
      let later: SocketRecord[] = [];
      for (let i = 0; i < 100; i++) {
        later = dump();
        if (later[0]?.state === TCP_STATE.TIME_WAIT) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      expect(later.map((s) => [s.state, s.id])).toEqual([[TCP_STATE.TIME_WAIT, first[0]!.id]]);
    } finally {
      collector.close();
      c.destroy();
      srv.close();
    }
  });
});
