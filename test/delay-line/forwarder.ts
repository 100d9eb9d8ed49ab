// The delay line's packet forwarder, run as its own process (so a busy test event loop cannot add
// jitter): for every namespace it opens a TUN device INSIDE that namespace (setns into it on this thread,
// open /dev/net/tun + TUNSETIFF, setns back: the device lives where it was created, the fd stays with
// us), then moves each IP packet read from one namespace's TUN to the TUN of the namespace that owns the
// destination address, after the configured one-way delay for that (from, to) pair. The kernels at both
// ends see a real path with that latency, so their TCP RTT (what the agent reads) is the emulated one.
//
// Argument: JSON ForwarderSpec. Prints "ready" when every TUN is open. Exits when stdin closes (the
// parent died), on SIGTERM, or on SIGINT; the TUN devices disappear with it (they are not persistent).
//
// Partitions, at run time: a line {"id": N, "drop": [[from, to], ...]} on stdin (namespace indexes)
// replaces the set of directed pairs whose packets are dropped — on arrival, and any still queued
// for that pair — and is acknowledged with {"ack": N} on stdout once in force.
import koffi from 'koffi';
import { ipToBytes } from '../../model/primitives.ts';
import { libc } from '../../lib/libc.ts';

export interface ForwarderSpec {
  /** Network namespace names (as in /run/netns). */
  namespaces: string[];
  tunName: string;
  /** Addresses owned by each namespace (index = namespaces index), plain IPs. */
  owners: { ns: number; address: string }[];
  /** delayMs[from][to]: one-way delay in ms. */
  delayMs: number[][];
}

const O_RDWR = 2;
const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;
const CLONE_NEWNET = 0x40000000;
const TUNSETIFF = 0x400454ca;
const IFF_TUN = 0x0001;
const IFF_NO_PI = 0x1000;
const EAGAIN = 11;

const spec = JSON.parse(process.argv[2] ?? '') as ForwarderSpec;
const c = libc();

function fail(msg: string): never {
  process.stderr.write(`delay-line forwarder: ${msg}\n`);
  process.exit(1);
}

function openTunIn(nsName: string): number {
  const home = c.open('/proc/thread-self/ns/net', O_CLOEXEC, 0);
  if (home < 0) fail(`open own netns: errno ${c.errno()}`);
  const target = c.open(`/run/netns/${nsName}`, O_CLOEXEC, 0);
  if (target < 0) fail(`open /run/netns/${nsName}: errno ${c.errno()}`);
  if (c.setns(target, CLONE_NEWNET) < 0) fail(`setns(${nsName}): errno ${c.errno()}`);
  const fd = c.open('/dev/net/tun', O_RDWR | O_NONBLOCK | O_CLOEXEC, 0);
  const openErr = c.errno();
  let ioctlErr = 0;
  if (fd >= 0) {
    const ifr = Buffer.alloc(40); // struct ifreq: char name[16]; short flags; ...
    ifr.write(spec.tunName, 0, 15, 'ascii');
    ifr.writeUInt16LE(IFF_TUN | IFF_NO_PI, 16);
    if (c.ioctl(fd, TUNSETIFF, ifr) < 0) ioctlErr = c.errno();
  }
  if (c.setns(home, CLONE_NEWNET) < 0) fail(`setns(back): errno ${c.errno()}`);
  c.close(home);
  c.close(target);
  if (fd < 0) fail(`open /dev/net/tun in ${nsName}: errno ${openErr}`);
  if (ioctlErr) fail(`TUNSETIFF in ${nsName}: errno ${ioctlErr}`);
  return fd;
}

const fds = spec.namespaces.map(openTunIn);
const owners4 = new Map<number, number>();
const owners6 = new Map<string, number>();
for (const o of spec.owners) {
  const b = ipToBytes(o.address);
  if (!b) fail(`bad address ${o.address}`);
  if (b.length === 4) owners4.set(((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0, o.ns);
  else owners6.set(Buffer.from(b).toString('hex'), o.ns);
}

interface Queued {
  due: number;
  packet: Buffer;
}
// One FIFO per (from, to): the delay is constant per pair, so FIFO order is due order.
const queues = new Map<number, { items: Queued[]; head: number; timer: NodeJS.Timeout | null; to: number }>();
let forwarded = 0;
let unroutable = 0;
let dropped = 0;
/** Directed pairs (from * 1024 + to) whose packets are dropped: a partition. */
let cut = new Set<number>();

function destination(p: Buffer, n: number): number | undefined {
  const version = p[0]! >> 4;
  if (version === 4 && n >= 20) return owners4.get(p.readUInt32BE(16));
  if (version === 6 && n >= 40) return owners6.get(p.toString('hex', 24, 40));
  return undefined;
}

function flush(key: number): void {
  const q = queues.get(key)!;
  q.timer = null;
  const now = performance.now();
  while (q.head < q.items.length && q.items[q.head]!.due <= now) {
    const { packet } = q.items[q.head++]!;
    if (cut.has(key)) {
      dropped++; // cut while in flight
      continue;
    }
    c.write(fds[q.to]!, packet, packet.length); // a full TUN queue drops, as a real link would
    forwarded++;
  }
  if (q.head > 1024 && q.head * 2 > q.items.length) {
    q.items = q.items.slice(q.head);
    q.head = 0;
  }
  arm(key);
}

function arm(key: number): void {
  const q = queues.get(key)!;
  if (q.timer || q.head >= q.items.length) return;
  // Timers have 1 ms granularity and may fire a fraction early: flush() re-arms until the packet is due,
  // so a packet is never delivered before its delay (late by scheduling only).
  q.timer = setTimeout(() => flush(key), Math.max(0, Math.ceil(q.items[q.head]!.due - performance.now())));
}

const buf = Buffer.alloc(65536);
function drain(from: number): void {
  for (;;) {
    const n = c.read(fds[from]!, buf, buf.length);
    if (n < 0) {
      if (c.errno() !== EAGAIN) process.stderr.write(`delay-line forwarder: read errno ${c.errno()}\n`);
      return;
    }
    if (n === 0) return;
    const to = destination(buf, n);
    if (to === undefined || to === from) {
      unroutable++;
      continue;
    }
    const key = from * 1024 + to;
    if (cut.has(key)) {
      dropped++;
      continue;
    }
    let q = queues.get(key);
    if (!q) queues.set(key, (q = { items: [], head: 0, timer: null, to }));
    const delay = spec.delayMs[from]?.[to] ?? 0;
    q.items.push({ due: performance.now() + delay, packet: Buffer.from(buf.subarray(0, n)) });
    arm(key);
  }
}

const polls = fds.map((fd, i) => koffi.node.poll(fd, { readable: true }, () => drain(i)));

function shutdown(): void {
  for (const p of polls) p.close();
  for (const fd of fds) c.close(fd);
  process.stderr.write(`delay-line forwarder: forwarded ${forwarded}, unroutable ${unroutable}, dropped ${dropped}\n`);
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
process.stdin.on('end', shutdown);
process.stdin.on('error', shutdown);
let pendingInput = '';
process.stdin.on('data', (d: Buffer) => {
  pendingInput += d.toString();
  for (let nl = pendingInput.indexOf('\n'); nl >= 0; nl = pendingInput.indexOf('\n')) {
    const line = pendingInput.slice(0, nl).trim();
    pendingInput = pendingInput.slice(nl + 1);
    if (!line) continue;
    try {
      const cmd = JSON.parse(line) as { id: number; drop: [number, number][] };
      cut = new Set(cmd.drop.map(([from, to]) => from * 1024 + to));
      process.stdout.write(`${JSON.stringify({ ack: cmd.id })}\n`);
    } catch (err) {
      process.stderr.write(`delay-line forwarder: bad command ${JSON.stringify(line)}: ${(err as Error).message}\n`);
    }
  }
});
process.stdin.resume();
process.stdout.write('ready\n');
