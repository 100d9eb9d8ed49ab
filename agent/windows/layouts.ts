// Byte layouts of the Windows IP Helper structures the Windows collector reads, and pure parsers for
// them (documented in the Windows SDK: iphlpapi.h / tcpmib.h / tcpestats.h). All are arrays of 32-bit
// little-endian fields with 4-byte alignment:
//
//   MIB_TCPTABLE2   { DWORD dwNumEntries; MIB_TCPROW2 table[] }             row = 28 bytes
//   MIB_TCPROW2     { dwState, dwLocalAddr, dwLocalPort, dwRemoteAddr, dwRemotePort, dwOwningPid, dwOffloadState }
//   MIB_TCP6TABLE2  { DWORD dwNumEntries; MIB_TCP6ROW2 table[] }            row = 60 bytes
//   MIB_TCP6ROW2    { IN6_ADDR LocalAddr; dwLocalScopeId; dwLocalPort; IN6_ADDR RemoteAddr; dwRemoteScopeId;
//                     dwRemotePort; State; dwOwningPid; dwOffloadState }
//   MIB_TCPROW      { dwState, dwLocalAddr, dwLocalPort, dwRemoteAddr, dwRemotePort }            20 bytes
//   MIB_TCP6ROW     { State, LocalAddr, dwLocalScopeId, dwLocalPort, RemoteAddr, dwRemoteScopeId, dwRemotePort } 52 bytes
//   TCP_ESTATS_PATH_ROD_v0: 40 ULONGs (160 bytes); SampleRtt is the 27th, then SmoothedRtt, RttVar,
//                     MaxRtt, MinRtt (milliseconds).
//
// Addresses (IN_ADDR as a DWORD, IN6_ADDR) are in network byte order in memory; ports are DWORDs whose
// low 16 bits hold the port in network byte order.
import { bytesToIp } from '../../model/addresses.ts';
import type { ErrorCounts } from '../errors.ts';
import { TCP_STATE } from '../netlink/constants.ts';

export const MIB_TCPROW2_SIZE = 28;
export const MIB_TCP6ROW2_SIZE = 60;
export const MIB_TCPROW_SIZE = 20;
export const MIB_TCP6ROW_SIZE = 52;
export const TCP_ESTATS_PATH_ROD_V0_SIZE = 160;
export const PATH_ROD_OFFSETS = { SampleRtt: 104, SmoothedRtt: 108, RttVar: 112, MaxRtt: 116, MinRtt: 120 } as const;

/** MIB_TCP_STATE values. */
export const MIB_TCP_STATE = { CLOSED: 1, LISTEN: 2, SYN_SENT: 3, SYN_RCVD: 4, ESTAB: 5, FIN_WAIT1: 6, FIN_WAIT2: 7, CLOSE_WAIT: 8, CLOSING: 9, LAST_ACK: 10, TIME_WAIT: 11, DELETE_TCB: 12 } as const;

const TO_LINUX_STATE: Record<number, number> = {
  1: TCP_STATE.CLOSE,
  2: TCP_STATE.LISTEN,
  3: TCP_STATE.SYN_SENT,
  4: TCP_STATE.SYN_RECV,
  5: TCP_STATE.ESTABLISHED,
  6: TCP_STATE.FIN_WAIT1,
  7: TCP_STATE.FIN_WAIT2,
  8: TCP_STATE.CLOSE_WAIT,
  9: TCP_STATE.CLOSING,
  10: TCP_STATE.LAST_ACK,
  11: TCP_STATE.TIME_WAIT,
  12: TCP_STATE.CLOSE,
};

export interface WinTcpRow {
  family: 4 | 6;
  /** Linux state number. */
  state: number;
  winState: number;
  localAddr: string;
  localPort: number;
  remoteAddr: string;
  remotePort: number;
  localScopeId: number;
  remoteScopeId: number;
  pid: number;
  /** The raw row bytes re-encoded as MIB_TCPROW / MIB_TCP6ROW, the key EStats calls take. */
  estatsRow: Buffer;
}

const port = (dword: number) => ((dword & 0xff) << 8) | ((dword >>> 8) & 0xff);

function rowCount(buf: Buffer, len: number, rowSize: number, errors: ErrorCounts): number {
  if (len < 4 || len > buf.length) {
    errors.add('windows_api');
    return 0;
  }
  const declared = buf.readUInt32LE(0);
  const fits = Math.floor((len - 4) / rowSize);
  if (declared > fits) {
    errors.add('truncated_message'); // the table claims more rows than the bytes hold
    return fits;
  }
  return declared;
}

/** Parses a MIB_TCPTABLE2 of `len` bytes. */
export function parseTcpTable2(buf: Buffer, len: number, errors: ErrorCounts): WinTcpRow[] {
  const n = rowCount(buf, len, MIB_TCPROW2_SIZE, errors);
  const rows: WinTcpRow[] = [];
  for (let i = 0; i < n; i++) {
    const o = 4 + i * MIB_TCPROW2_SIZE;
    const winState = buf.readUInt32LE(o);
    const estatsRow = Buffer.from(buf.subarray(o, o + MIB_TCPROW_SIZE)); // MIB_TCPROW is ROW2's first five fields
    rows.push({
      family: 4,
      winState,
      state: TO_LINUX_STATE[winState] ?? 0,
      localAddr: `${buf[o + 4]}.${buf[o + 5]}.${buf[o + 6]}.${buf[o + 7]}`,
      localPort: port(buf.readUInt32LE(o + 8)),
      remoteAddr: `${buf[o + 12]}.${buf[o + 13]}.${buf[o + 14]}.${buf[o + 15]}`,
      remotePort: port(buf.readUInt32LE(o + 16)),
      localScopeId: 0,
      remoteScopeId: 0,
      pid: buf.readUInt32LE(o + 20),
      estatsRow,
    });
  }
  return rows;
}

/** Parses a MIB_TCP6TABLE2 of `len` bytes. */
export function parseTcp6Table2(buf: Buffer, len: number, errors: ErrorCounts): WinTcpRow[] {
  const n = rowCount(buf, len, MIB_TCP6ROW2_SIZE, errors);
  const rows: WinTcpRow[] = [];
  for (let i = 0; i < n; i++) {
    const o = 4 + i * MIB_TCP6ROW2_SIZE;
    const local = buf.subarray(o, o + 16);
    const remote = buf.subarray(o + 24, o + 40);
    const winState = buf.readUInt32LE(o + 48);
    // MIB_TCP6ROW: State, LocalAddr, dwLocalScopeId, dwLocalPort, RemoteAddr, dwRemoteScopeId, dwRemotePort
    const estatsRow = Buffer.alloc(MIB_TCP6ROW_SIZE);
    estatsRow.writeUInt32LE(winState, 0);
    buf.copy(estatsRow, 4, o, o + 24); // LocalAddr + scope + port
    buf.copy(estatsRow, 28, o + 24, o + 48); // RemoteAddr + scope + port
    const mappedLocal = unmap(local);
    const mappedRemote = unmap(remote);
    rows.push({
      family: mappedRemote.family,
      winState,
      state: TO_LINUX_STATE[winState] ?? 0,
      localAddr: mappedLocal.text,
      localPort: port(buf.readUInt32LE(o + 20)),
      remoteAddr: mappedRemote.text,
      remotePort: port(buf.readUInt32LE(o + 44)),
      localScopeId: buf.readUInt32LE(o + 16),
      remoteScopeId: buf.readUInt32LE(o + 40),
      pid: buf.readUInt32LE(o + 52),
      estatsRow,
    });
  }
  return rows;
}

function unmap(b: Buffer): { family: 4 | 6; text: string } {
  let mapped = b[10] === 0xff && b[11] === 0xff;
  for (let i = 0; mapped && i < 10; i++) if (b[i] !== 0) mapped = false;
  if (mapped) return { family: 4, text: `${b[12]}.${b[13]}.${b[14]}.${b[15]}` };
  return { family: 6, text: bytesToIp(b) };
}

export interface PathRod {
  sampleRttMs: number;
  smoothedRttMs: number;
  rttVarMs: number;
  maxRttMs: number;
  /** undefined when Windows reports no minimum yet (ULONG_MAX). */
  minRttMs: number | undefined;
}

/** Parses TCP_ESTATS_PATH_ROD_v0; null when fewer than the RTT fields arrived. */
export function parsePathRod(buf: Buffer, len: number): PathRod | null {
  if (len < PATH_ROD_OFFSETS.MinRtt + 4 || len > buf.length) return null;
  const min = buf.readUInt32LE(PATH_ROD_OFFSETS.MinRtt);
  return {
    sampleRttMs: buf.readUInt32LE(PATH_ROD_OFFSETS.SampleRtt),
    smoothedRttMs: buf.readUInt32LE(PATH_ROD_OFFSETS.SmoothedRtt),
    rttVarMs: buf.readUInt32LE(PATH_ROD_OFFSETS.RttVar),
    maxRttMs: buf.readUInt32LE(PATH_ROD_OFFSETS.MaxRtt),
    minRttMs: min === 0xffffffff ? undefined : min,
  };
}
