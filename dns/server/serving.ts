// One serving process (the only process, or a cluster worker): its Responder, how its views are
// installed, and its sockets. With the dgram path this event loop answers UDP and TCP; with the
// batched path a thread of its own answers UDP (udp-batched/) and this loop keeps TCP, views and
// metrics — so nothing here ever waits on a socket.
import type { Registry } from 'prom-client';
import type { Logger } from '../../lib/log.ts';
import type { DnsView } from '../../model/views.ts';
import type { Responder } from '../answer/respond.ts';
import { DnsStats } from '../answer/stats.ts';
import type { DnsConfig } from '../config.ts';
import { registerServingMetrics, servedVersionOf } from '../metrics.ts';
import { registerDnssecMetrics } from '../dnssec/metrics.ts';
import type { OnlineSigner } from '../dnssec/online.ts';
import { DnssecStats } from '../dnssec/stats.ts';
import { applyViewDelta, createResponder, createSigner, indexView, openGeo, reloadKeys, skeletonOf, tcpLimitsOf, withParsed } from './engine.ts';
import type { ViewDelta } from '../view-changes.ts';
import type { CompactSubnets } from '../../model/view-changes.ts';
import type { WholeView } from './udp-batched/view-parts.ts';
import { startListeners, type ListenAddress, type Listeners } from './listeners.ts';
import { TcpStats } from './tcp.ts';
import { startBatchedUdp, type BatchedUdp } from './udp-batched/start.ts';
import type { UdpIo } from './udp-io.ts';
import { collectSoon } from '../../lib/collect-garbage.ts';

export class ServingProcess {
  readonly responder: Responder;
  /** The UDP thread's counters (shared memory), with the batched path. */
  private readonly udpStats: DnsStats | null;
  /** DNSSEC: this loop's signer (TCP, and UDP on the dgram path); the UDP thread signs with its own. */
  private readonly signer: OnlineSigner | undefined;
  private readonly udpDnssecStats: DnssecStats | null;
  private readonly tcpStats = new TcpStats();
  /** The skeleton of the view in force (engine.ts skeletonOf): the base of the next delta. */
  private latest: DnsView | null = null;
  /** The whole view, only until the UDP thread has started (it indexes its own copy). */
  private full: WholeView | null = null;
  private udp: BatchedUdp | null = null;
  /** The UDP thread needs the whole view and this process does not keep it (a cluster worker asks its primary). */
  onNeedView: (() => void) | null = null;

  constructor(
    private readonly config: DnsConfig,
    private readonly configFile: string,
    private readonly log: Logger,
    readonly io: UdpIo,
  ) {
    this.signer = createSigner(config, configFile);
    this.responder = createResponder(config, openGeo(config, configFile), log, undefined, this.signer);
    this.udpStats = io === 'recvmmsg' ? new DnsStats(new SharedArrayBuffer(DnsStats.BYTES)) : null;
    this.udpDnssecStats = io === 'recvmmsg' && this.signer ? new DnssecStats(new SharedArrayBuffer(DnssecStats.BYTES)) : null;
  }

  registerMetrics(registry: Registry): void {
    registerServingMetrics(registry, this.udpStats ? [this.responder.stats, this.udpStats] : this.responder.stats, () => this.servedVersion(), this.tcpStats);
    if (this.signer) registerDnssecMetrics(registry, this.signer, this.udpDnssecStats ? [this.udpDnssecStats] : []);
  }

  /** SIGHUP: re-reads the DNSSEC keys here and in the UDP thread (a bad directory keeps the keys in force). */
  reloadKeys(): void {
    reloadKeys(this.signer, this.config, this.configFile, this.log);
    if (this.signer) this.udp?.reloadKeys();
  }

  /** The oldest weights_version this process answers from (the UDP thread may lag by one index build). */
  servedVersion(): number {
    const own = servedVersionOf(this.responder.index);
    return this.udp ? Math.min(own, this.udp.servedVersion()) : own;
  }

  /** The version of this process's copy of the view (the base a delta must have), null before one. */
  heldVersion(): string | null {
    return this.latest?.version ?? null;
  }

  hasView(): boolean {
    return this.responder.index !== null;
  }

  /**
   * Indexes a view here (throws if it is invalid: the caller counts it and the last good view stays),
   * then hands it to the UDP thread, which indexes its own copy. `tables`: the records' learned
   * subnets in compact form, read instead of `view`'s (a skeleton then: engine.ts skeletonOf).
   */
  install(view: DnsView, logSummary: boolean, o: { tables?: CompactSubnets[][] } = {}): void {
    this.responder.setIndex(indexView(view, this.config, this.log, logSummary, undefined, o.tables));
    this.latest = skeletonOf(view);
    const whole: WholeView = o.tables ? { view: this.latest, tables: o.tables } : { view };
    this.full = this.udp ? null : whole;
    this.udp?.setView(whole);
    // A full view's parse and index build leave several times its size as garbage (lib/collect-garbage.ts).
    // Collected once the caller (which holds the view, or the message it came in) has returned.
    collectSoon();
  }

  /** The whole view for the UDP thread, which missed a delta's base (onNeedView), from whoever holds it. */
  resyncThread(whole: WholeView): void {
    this.udp?.setView(whole);
  }

  /**
   * A delta for this process's own copy of the view (a cluster worker's): applied in place, the index
   * updated in place. False when this process does not hold the delta's base: the caller sends the
   * whole view. Throws like install() when the result cannot be indexed.
   */
  installDelta(delta: ViewDelta): boolean {
    let out;
    try {
      out = applyViewDelta(this.latest, this.responder.index, delta, this.config, this.log);
    } catch (err) {
      this.latest = null; // possibly changed in place: no longer the base of anything
      throw err;
    }
    if (!out) return false;
    this.responder.setIndex(out.index);
    this.latest = out.view;
    this.full = null;
    this.udp?.setView({ view: out.view }, withParsed(delta, out.parsed));
    return true;
  }

  /**
   * Binds UDP and TCP on `addresses` (for the batched path: ports already claimed, see udp-io.ts).
   * `onUdpThreadExit`: the UDP thread died after it listened; the process cannot serve UDP any more.
   */
  async listen(addresses: ListenAddress[], onUdpThreadExit: (code: number) => void): Promise<Listeners> {
    const tcp = { limits: tcpLimitsOf(this.config), stats: this.tcpStats };
    if (this.io === 'dgram') return startListeners(addresses, this.responder, this.log, tcp);
    const udp = startBatchedUdp({
      addresses,
      config: this.config,
      configFile: this.configFile,
      view: this.full,
      stats: this.udpStats!,
      dnssecStats: this.udpDnssecStats,
      log: this.log,
      onUnexpectedExit: onUdpThreadExit,
      // The thread could not apply a delta to its copy (it missed the base): it gets the whole view.
      onNeedView: () => {
        if (this.full) this.udp?.setView(this.full);
        else this.onNeedView?.();
      },
    });
    this.udp = udp;
    this.full = null; // the thread has its own copy now
    try {
      await udp.ready;
    } catch (err) {
      this.udp = null;
      await udp.close();
      throw err;
    }
    // The whole view this process held for the thread's first build is garbage now (lib/collect-garbage.ts).
    collectSoon();
    return startListeners(addresses, this.responder, this.log, { ...tcp, udp });
  }
}
