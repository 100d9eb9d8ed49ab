// The Windows collector: GetTcpTable2 / GetTcp6Table2 list the connections, and for each established
// one GetPerTcp(6)ConnectionEStats(TcpConnectionEstatsPath) reads TCP_ESTATS_PATH_ROD_v0 (SmoothedRtt,
// RttVar, MinRtt in ms). Path statistics are off by default per connection: the collector switches them
// on once with SetPerTcp(6)ConnectionEStats (which needs an elevated process on Windows). Bound through
// koffi; it cannot run on the Linux CI host, so only the byte parsing (layouts.ts) is tested there.
import koffi from 'koffi';
import type { Collector, CollectResult, SocketRecord } from '../collector.ts';
import type { ErrorCounts } from '../errors.ts';
import { TCP_STATE } from '../netlink/constants.ts';
import { MIB_TCP_STATE, parsePathRod, parseTcp6Table2, parseTcpTable2, TCP_ESTATS_PATH_ROD_V0_SIZE, type WinTcpRow } from './layouts.ts';

const NO_ERROR = 0;
const ERROR_INSUFFICIENT_BUFFER = 122;
const TcpConnectionEstatsPath = 3; // TCP_ESTATS_TYPE
const MAX_TABLE_RETRIES = 5;

type Fn = (...args: unknown[]) => number;

export class WindowsEStatsCollector implements Collector {
  readonly name = 'windows-estats';
  private readonly fns: Record<'GetTcpTable2' | 'GetTcp6Table2' | 'SetPerTcpConnectionEStats' | 'GetPerTcpConnectionEStats' | 'SetPerTcp6ConnectionEStats' | 'GetPerTcp6ConnectionEStats', Fn>;
  private table = Buffer.alloc(64 * 1024);
  private readonly rod = Buffer.alloc(TCP_ESTATS_PATH_ROD_V0_SIZE);
  private readonly enable = Buffer.from([1]); // TCP_ESTATS_PATH_RW_v0 { BOOLEAN EnableCollection = TRUE }
  /** Connections whose path EStats we already switched on. */
  private enabled = new Set<string>();

  constructor() {
    if (process.platform !== 'win32') throw new Error('the windows collector runs only on Windows');
    const lib = koffi.load('iphlpapi.dll');
    // Buffers are passed as pointers (the row, the table, the size in/out DWORD, the ROD struct).
    const f = (proto: string) => lib.func(proto) as Fn;
    this.fns = {
      GetTcpTable2: f('uint32_t __stdcall GetTcpTable2(void *table, void *size, int order)'),
      GetTcp6Table2: f('uint32_t __stdcall GetTcp6Table2(void *table, void *size, int order)'),
      SetPerTcpConnectionEStats: f('uint32_t __stdcall SetPerTcpConnectionEStats(void *row, int type, void *rw, uint32_t rwVersion, uint32_t rwSize, uint32_t offset)'),
      GetPerTcpConnectionEStats: f('uint32_t __stdcall GetPerTcpConnectionEStats(void *row, int type, void *rw, uint32_t rwVersion, uint32_t rwSize, void *ros, uint32_t rosVersion, uint32_t rosSize, void *rod, uint32_t rodVersion, uint32_t rodSize)'),
      SetPerTcp6ConnectionEStats: f('uint32_t __stdcall SetPerTcp6ConnectionEStats(void *row, int type, void *rw, uint32_t rwVersion, uint32_t rwSize, uint32_t offset)'),
      GetPerTcp6ConnectionEStats: f('uint32_t __stdcall GetPerTcp6ConnectionEStats(void *row, int type, void *rw, uint32_t rwVersion, uint32_t rwSize, void *ros, uint32_t rosVersion, uint32_t rosSize, void *rod, uint32_t rodVersion, uint32_t rodSize)'),
    };
  }

  collect(errors: ErrorCounts): CollectResult {
    const sockets: SocketRecord[] = [];
    let complete = true;
    const seen = new Set<string>();
    for (const v6 of [false, true]) {
      const raw = this.readTable(v6, errors);
      if (!raw) {
        complete = false;
        continue;
      }
      const rows = v6 ? parseTcp6Table2(raw.buf, raw.len, errors) : parseTcpTable2(raw.buf, raw.len, errors);
      for (const row of rows) {
        const id = `${row.localAddr}|${row.localPort}|${row.remoteAddr}|${row.remotePort}|${row.pid}`;
        const rec: SocketRecord = { id, family: row.family, state: row.state, localAddr: row.localAddr, localPort: row.localPort, remoteAddr: row.remoteAddr, remotePort: row.remotePort };
        if (row.winState === MIB_TCP_STATE.ESTAB) {
          seen.add(id);
          this.addRtt(row, id, v6, rec, errors);
        }
        sockets.push(rec);
      }
    }
    if (complete) for (const id of this.enabled) if (!seen.has(id)) this.enabled.delete(id);
    return { sockets, complete };
  }

  private readTable(v6: boolean, errors: ErrorCounts): { buf: Buffer; len: number } | null {
    const size = Buffer.alloc(4);
    for (let i = 0; i < MAX_TABLE_RETRIES; i++) {
      size.writeUInt32LE(this.table.length, 0);
      const rc = (v6 ? this.fns.GetTcp6Table2 : this.fns.GetTcpTable2)(this.table, size, 0);
      if (rc === NO_ERROR) return { buf: this.table, len: size.readUInt32LE(0) };
      if (rc !== ERROR_INSUFFICIENT_BUFFER) break;
      this.table = Buffer.alloc(Math.ceil(size.readUInt32LE(0) * 1.25) + 4096); // the table grew; retry
    }
    errors.add('windows_api');
    return null;
  }

  private addRtt(row: WinTcpRow, id: string, v6: boolean, rec: SocketRecord, errors: ErrorCounts): void {
    if (!this.enabled.has(id)) {
      const set = v6 ? this.fns.SetPerTcp6ConnectionEStats : this.fns.SetPerTcpConnectionEStats;
      if (set(row.estatsRow, TcpConnectionEstatsPath, this.enable, 0, 1, 0) !== NO_ERROR) {
        errors.add('windows_api');
        return;
      }
      this.enabled.add(id);
    }
    const get = v6 ? this.fns.GetPerTcp6ConnectionEStats : this.fns.GetPerTcpConnectionEStats;
    const rc = get(row.estatsRow, TcpConnectionEstatsPath, null, 0, 0, null, 0, 0, this.rod, 0, this.rod.length);
    if (rc !== NO_ERROR) {
      errors.add('windows_api');
      return;
    }
    const rod = parsePathRod(this.rod, this.rod.length);
    if (!rod || rec.state !== TCP_STATE.ESTABLISHED) return;
    rec.rttUs = rod.smoothedRttMs * 1000;
    rec.rttVarUs = rod.rttVarMs * 1000;
    if (rod.minRttMs !== undefined) rec.minRttUs = rod.minRttMs * 1000;
  }

  close(): void {
    this.enabled.clear();
  }
}
