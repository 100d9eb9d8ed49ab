// A TUN "delay line" for tests and the lab: N network namespaces, a TUN device in each, and a forwarder
// process (forwarder.ts) that carries IP packets between them after a configured one-way delay per
// (from, to) pair. This kernel has no netem; with this, the RTT the kernel measures on a TCP connection
// between two namespaces is the emulated one.
//
//   const line = await DelayLine.create({
//     namespaces: [{ label: 'origin', addresses: ['10.201.0.1/24'] }, { label: 'eu', addresses: ['10.201.1.2/24'] }],
//     delayMs: { eu: { origin: 20 }, origin: { eu: 20 } },         // 40 ms RTT; symmetric unless given
//   });
//   const srv = line.spawn('origin', process.execPath, ['server.js']);
//   ...
//   await line.destroy();     // always (afterAll); also runs on process exit
//
// Only the namespaces it creates (named slc-<pid>-<n>-<label>) are touched; addresses live only inside
// them. Teardown is by name and PID: tracked children are killed, the forwarder is stopped (its TUN
// devices vanish with it), then each namespace is deleted. `leftovers()` reports anything that survived.
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import { setPriority } from 'node:os';
import { nodeArgsFor } from '../../lib/runtime.ts';
import type { ForwarderSpec } from './forwarder.ts';

export interface NamespaceSpec {
  /** Short label, [a-z0-9]+; the real netns name is derived from it. */
  label: string;
  /** Addresses with prefix length, e.g. "10.201.1.2/24", "fd5c:1:2::2/64". */
  addresses: string[];
}

export interface DelayLineSpec {
  namespaces: NamespaceSpec[];
  /** One-way delay in ms, delayMs[from][to]. A missing entry takes the reverse direction's value, else 0. */
  delayMs?: Record<string, Record<string, number>>;
  /** Prefixes routed over the TUN device in every namespace (default 10.0.0.0/8 and fd00::/8). */
  routes?: string[];
}

const TUN = 'slc0';
const FORWARDER = new URL('./forwarder.ts', import.meta.url);
const live = new Set<DelayLine>();
let counter = 0;
let exitHookInstalled = false;

export class DelayLine {
  private readonly children = new Set<ChildProcess>();
  private forwarder: ChildProcess | null = null;
  private destroyed = false;
  private forwarderLog = '';

  private constructor(
    readonly spec: DelayLineSpec,
    /** label -> netns name */
    readonly names: ReadonlyMap<string, string>,
  ) {}

  static async create(spec: DelayLineSpec): Promise<DelayLine> {
    installExitHook();
    const n = ++counter;
    const names = new Map<string, string>();
    for (const ns of spec.namespaces) {
      if (!/^[a-z0-9]{1,20}$/.test(ns.label)) throw new Error(`delay line: bad label "${ns.label}" ([a-z0-9]{1,20})`);
      if (names.has(ns.label)) throw new Error(`delay line: duplicate label "${ns.label}"`);
      names.set(ns.label, `slc-${process.pid}-${n}-${ns.label}`);
    }
    const line = new DelayLine(spec, names);
    live.add(line);
    try {
      for (const name of names.values()) {
        ip(['netns', 'add', name]);
        ip(['-n', name, 'link', 'set', 'lo', 'up']);
      }
      await line.startForwarder();
      const routes = spec.routes ?? defaultRoutes(spec);
      for (const ns of spec.namespaces) {
        const name = names.get(ns.label)!;
        for (const a of ns.addresses) {
          const v6 = a.includes(':');
          ip(['-n', name, ...(v6 ? ['-6'] : []), 'addr', 'add', a, 'dev', TUN, ...(v6 ? ['nodad'] : [])]);
        }
        ip(['-n', name, 'link', 'set', TUN, 'up']);
        for (const r of routes) {
          const v6 = r.includes(':');
          if (!ns.addresses.some((a) => a.includes(':') === v6)) continue; // no source address of that family
          ip(['-n', name, ...(v6 ? ['-6'] : []), 'route', 'replace', r, 'dev', TUN]);
        }
      }
      return line;
    } catch (err) {
      await line.destroy();
      throw err;
    }
  }

  private async startForwarder(): Promise<void> {
    const labels = this.spec.namespaces.map((n) => n.label);
    const delay = (from: string, to: string) => this.spec.delayMs?.[from]?.[to] ?? this.spec.delayMs?.[to]?.[from] ?? 0;
    const fspec: ForwarderSpec = {
      namespaces: labels.map((l) => this.names.get(l)!),
      tunName: TUN,
      owners: this.spec.namespaces.flatMap((ns, i) => ns.addresses.map((a) => ({ ns: i, address: a.split('/')[0]! }))),
      delayMs: labels.map((from) => labels.map((to) => delay(from, to))),
    };
    const child = spawn(process.execPath, [...nodeArgsFor(FORWARDER), JSON.stringify(fspec)], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.forwarder = child;
    // The forwarder's timers are the emulated latency: let it preempt ordinary load (tests, builds) on a
    // busy machine, or late wake-ups show up as extra RTT. Best effort (needs root, which namespaces need anyway).
    try {
      if (child.pid !== undefined) setPriority(child.pid, -10);
    } catch {
      // keep the default priority
    }
    child.stderr!.on('data', (d: Buffer) => (this.forwarderLog += d.toString()));
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`delay line forwarder did not start: ${this.forwarderLog}`)), 15_000);
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`delay line forwarder exited (${code}): ${this.forwarderLog}`));
      });
    });
  }

  /** The real netns name for a label. */
  ns(label: string): string {
    const name = this.names.get(label);
    if (!name) throw new Error(`delay line: no namespace "${label}"`);
    return name;
  }

  /** Starts `cmd args` inside the namespace (ip netns exec); killed by destroy(). */
  spawn(label: string, cmd: string, args: string[], opts: SpawnOptions = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.ns(label), cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  /** Runs `cmd args` inside the namespace to completion. */
  exec(label: string, cmd: string, args: string[], timeoutMs = 20_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      const child = this.spawn(label, cmd, args);
      let stdout = '';
      let stderr = '';
      child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.once('exit', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
  }

  /** GET a URL from inside a namespace (the test process itself lives outside). */
  async fetchText(label: string, url: string): Promise<{ status: number; body: string }> {
    const script = `fetch(${JSON.stringify(url)}).then(async r=>{process.stdout.write(JSON.stringify({status:r.status,body:await r.text()}))},e=>{process.stderr.write(String(e));process.exit(1)})`;
    const r = await this.exec(label, process.execPath, ['-e', script]);
    if (r.code !== 0) throw new Error(`fetch ${url} in ${label} failed: ${r.stderr.trim()}`);
    return JSON.parse(r.stdout) as { status: number; body: string };
  }

  /**
   * Partitions: drops every packet between each given pair of namespaces, both ways, until the next
   * call (which replaces the set; [] heals everything). Resolves once the forwarder has it in force.
   */
  async setPartitions(pairs: [string, string][]): Promise<void> {
    const fwd = this.forwarder;
    if (!fwd?.stdin || fwd.exitCode !== null) throw new Error('delay line: the forwarder is not running');
    const index = new Map(this.spec.namespaces.map((n, i) => [n.label, i]));
    const at = (label: string) => {
      const i = index.get(label);
      if (i === undefined) throw new Error(`delay line: no namespace "${label}"`);
      return i;
    };
    const drop = pairs.flatMap(([a, b]) => [[at(a), at(b)], [at(b), at(a)]]);
    const id = ++this.commandId;
    const acked = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`delay line: the forwarder did not acknowledge partitions ${JSON.stringify(pairs)}`)), 5000);
      let buf = '';
      const onData = (d: Buffer) => {
        buf += d.toString();
        if (buf.includes(`{"ack":${id}}`)) {
          clearTimeout(timer);
          fwd.stdout!.off('data', onData);
          resolve();
        }
      };
      fwd.stdout!.on('data', onData);
    });
    fwd.stdin.write(`${JSON.stringify({ id, drop })}\n`);
    await acked;
  }

  private commandId = 0;

  forwarderOutput(): string {
    return this.forwarderLog;
  }

  /** Idempotent. Kills tracked children and the forwarder by PID, deletes the namespaces by name. */
  /** PID of the forwarder process (for supervisors that record what to clean up after a crash). */
  get forwarderPid(): number | undefined {
    return this.forwarder?.pid;
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    const all = [...this.children, ...(this.forwarder ? [this.forwarder] : [])];
    await Promise.all(all.map((c) => stopChild(c)));
    this.children.clear();
    removeNamespaces([...this.names.values()]);
    live.delete(this);
  }

  /** Namespaces or processes of this line that still exist (empty after a clean destroy()). */
  leftovers(): string[] {
    const left: string[] = [];
    for (const name of this.names.values()) if (existsSync(`/run/netns/${name}`)) left.push(`netns ${name}`);
    for (const c of [...this.children, ...(this.forwarder ? [this.forwarder] : [])]) {
      if (c.pid !== undefined && c.exitCode === null && c.signalCode === null && isAlive(c.pid)) left.push(`pid ${c.pid}`);
    }
    return left;
  }
}

/** Deletes namespaces by exact name; missing ones are ignored. Synchronous so it can run at exit. */
export function removeNamespaces(names: string[]): void {
  for (const name of names) {
    if (!existsSync(`/run/netns/${name}`)) continue;
    try {
      execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
    } catch {
      // reported by leftovers()
    }
  }
}

function defaultRoutes(spec: DelayLineSpec): string[] {
  const all = spec.namespaces.flatMap((n) => n.addresses);
  return [...(all.some((a) => !a.includes(':')) ? ['10.0.0.0/8'] : []), ...(all.some((a) => a.includes(':')) ? ['fd00::/8'] : [])];
}

function ip(args: string[]): void {
  try {
    execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`ip ${args.join(' ')}: ${stderr || (err as Error).message}`);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function stopChild(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null || c.pid === undefined) return;
  const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
  c.kill('SIGTERM');
  const timer = setTimeout(() => c.kill('SIGKILL'), 2000);
  await exited;
  clearTimeout(timer);
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A test that crashed or forgot destroy(): still remove what we created, synchronously, by name/PID.
  process.on('exit', () => {
    for (const line of live) {
      for (const pid of line.leftovers().filter((l) => l.startsWith('pid ')).map((l) => Number(l.slice(4)))) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      removeNamespaces([...line.names.values()]);
    }
  });
}
