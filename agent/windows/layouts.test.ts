// The Windows collector cannot run on this Linux host. These tests build the documented byte layouts
// (MIB_TCPTABLE2, MIB_TCP6TABLE2, TCP_ESTATS_PATH_ROD_v0) by hand and check the parsers against them.
import { describe, expect, it } from 'vitest';
import { ErrorCounts } from '../errors.ts';
import { TCP_STATE } from '../netlink/constants.ts';
import { MIB_TCP_STATE, MIB_TCP6ROW2_SIZE, MIB_TCPROW2_SIZE, parsePathRod, parseTcp6Table2, parseTcpTable2, TCP_ESTATS_PATH_ROD_V0_SIZE } from './layouts.ts';
import { ipToBytes } from '../../model/addresses.ts';

/** A DWORD port as Windows stores it: network byte order in the low 16 bits. */
const portDword = (p: number) => ((p & 0xff) << 8) | (p >> 8);

function tcpTable2(rows: { state: number; local: string; lport: number; remote: string; rport: number; pid: number }[], declared = rows.length): Buffer {
  const b = Buffer.alloc(4 + rows.length * MIB_TCPROW2_SIZE);
  b.writeUInt32LE(declared, 0);
  rows.forEach((r, i) => {
    const o = 4 + i * MIB_TCPROW2_SIZE;
    b.writeUInt32LE(r.state, o);
    Buffer.from(ipToBytes(r.local)!).copy(b, o + 4);
    b.writeUInt32LE(portDword(r.lport), o + 8);
    Buffer.from(ipToBytes(r.remote)!).copy(b, o + 12);
    b.writeUInt32LE(portDword(r.rport), o + 16);
    b.writeUInt32LE(r.pid, o + 20);
    b.writeUInt32LE(0, o + 24); // TcpConnectionOffloadStateInHost
  });
  return b;
}

describe('Windows IP Helper layouts (constructed fixtures)', () => {
  it('parses MIB_TCPTABLE2 rows (ports in network order, IN_ADDR in memory order)', () => {
    const b = tcpTable2([
      { state: MIB_TCP_STATE.ESTAB, local: '192.0.2.1', lport: 443, remote: '198.51.100.7', rport: 50123, pid: 4242 },
      { state: MIB_TCP_STATE.TIME_WAIT, local: '192.0.2.1', lport: 443, remote: '198.51.100.8', rport: 1, pid: 0 },
    ]);
    const errors = new ErrorCounts();
    const rows = parseTcpTable2(b, b.length, errors);
    expect(errors.total()).toBe(0);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({ family: 4, state: TCP_STATE.ESTABLISHED, localAddr: '192.0.2.1', localPort: 443, remoteAddr: '198.51.100.7', remotePort: 50123, pid: 4242 });
    expect(rows[1]!.state).toBe(TCP_STATE.TIME_WAIT);
    // The EStats calls take a MIB_TCPROW: the first five DWORDs of the row.
    expect(rows[0]!.estatsRow.equals(b.subarray(4, 24))).toBe(true);
  });

  it('clamps a table that declares more rows than its bytes hold', () => {
    const b = tcpTable2([{ state: 5, local: '10.0.0.1', lport: 1, remote: '10.0.0.2', rport: 2, pid: 1 }], 50);
    const errors = new ErrorCounts();
    expect(parseTcpTable2(b, b.length, errors)).toHaveLength(1);
    expect(errors.get('truncated_message')).toBe(1);
    expect(parseTcpTable2(b, 2, errors)).toEqual([]);
  });

  it('parses MIB_TCP6TABLE2 rows, unmapping v4-mapped peers, and builds the MIB_TCP6ROW key', () => {
    const b = Buffer.alloc(4 + 2 * MIB_TCP6ROW2_SIZE);
    b.writeUInt32LE(2, 0);
    const put = (i: number, local: string, lport: number, remote: string, rport: number, state: number, pid: number) => {
      const o = 4 + i * MIB_TCP6ROW2_SIZE;
      Buffer.from(ipToBytes(local)!).copy(b, o);
      b.writeUInt32LE(7, o + 16); // local scope id
      b.writeUInt32LE(portDword(lport), o + 20);
      Buffer.from(ipToBytes(remote)!).copy(b, o + 24);
      b.writeUInt32LE(9, o + 40); // remote scope id
      b.writeUInt32LE(portDword(rport), o + 44);
      b.writeUInt32LE(state, o + 48);
      b.writeUInt32LE(pid, o + 52);
    };
    put(0, '2001:db8::1', 443, '2001:db8:5::9', 40000, MIB_TCP_STATE.ESTAB, 10);
    put(1, '::ffff:192.0.2.1', 443, '::ffff:203.0.113.5', 40001, MIB_TCP_STATE.CLOSE_WAIT, 11);
    const rows = parseTcp6Table2(b, b.length, new ErrorCounts());
    expect(rows[0]).toMatchObject({ family: 6, localAddr: '2001:db8::1', localPort: 443, remoteAddr: '2001:db8:5::9', remotePort: 40000, state: TCP_STATE.ESTABLISHED, localScopeId: 7, remoteScopeId: 9, pid: 10 });
    expect(rows[1]).toMatchObject({ family: 4, localAddr: '192.0.2.1', remoteAddr: '203.0.113.5', state: TCP_STATE.CLOSE_WAIT });
    const key = rows[0]!.estatsRow;
    expect(key.length).toBe(52);
    expect(key.readUInt32LE(0)).toBe(MIB_TCP_STATE.ESTAB);
    expect(key.subarray(4, 20).equals(Buffer.from(ipToBytes('2001:db8::1')!))).toBe(true);
    expect(key.readUInt32LE(20)).toBe(7);
    expect(key.readUInt32LE(24)).toBe(portDword(443));
    expect(key.subarray(28, 44).equals(Buffer.from(ipToBytes('2001:db8:5::9')!))).toBe(true);
    expect(key.readUInt32LE(48)).toBe(portDword(40000));
  });

  it('reads SmoothedRtt/RttVar/MinRtt from TCP_ESTATS_PATH_ROD_v0 (40 ULONGs; RTTs are the 27th-31st)', () => {
    const rod = Buffer.alloc(TCP_ESTATS_PATH_ROD_V0_SIZE);
    for (let i = 0; i < 40; i++) rod.writeUInt32LE(1000 + i, i * 4); // each field = 1000 + its index
    expect(parsePathRod(rod, rod.length)).toEqual({ sampleRttMs: 1026, smoothedRttMs: 1027, rttVarMs: 1028, maxRttMs: 1029, minRttMs: 1030 });
    rod.writeUInt32LE(0xffffffff, 30 * 4);
    expect(parsePathRod(rod, rod.length)!.minRttMs).toBeUndefined();
    expect(parsePathRod(rod, 100)).toBeNull();
  });
});
