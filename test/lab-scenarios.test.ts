// The end-to-end lab in CI: each shipped scenario runs through the real CLI (`sluice lab up`), on real
// parts in network namespaces (HAProxy, Prometheus, control plane, agents, edge-sync, sluice dns, the
// TUN delay line), and the test asserts the scenario's checks — every one computed from measurements
// (the origins' own request counters, the clients' DNS answers, the kernels' RTTs), not from what the
// scheduler claims — plus the headline numbers, and that nothing was left behind.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { unavailable } from './helpers/env.ts';
import { expectAllChecks, labUp as labUpIn } from './helpers/lab.ts';
import { leftovers, readState } from './lab/state.ts';

const skip = unavailable({ root: true, tools: { haproxy: 'haproxy', prometheus: 'prometheus', dig: 'dnsutils', ip: 'iproute2' } });

const dir = mkdtempSync(join(tmpdir(), 'sluice-lab-test-'));
const labUp = (scenario: string, timeoutMs: number, env: NodeJS.ProcessEnv = {}) => labUpIn(dir, scenario, timeoutMs, env);

describe.skipIf(skip).sequential('sluice lab scenarios (real parts, network namespaces)', () => {
  // A failed scenario's outputs (result.json, decisions.json, logs) are kept for reading.
  let keep = false;
  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail') keep = true;
  });
  afterAll(() => {
    if (keep) process.stderr.write(`lab scenarios: a scenario failed; its outputs are kept in ${dir}\n`);
    else rmSync(dir, { recursive: true, force: true });
  });

  it('capacity spill: US settles at <= 200 rps +2 % within the damped cycles, EU takes the rest; a failed US gets nothing', async () => {
    const { code, result, output, stateDir } = await labUp('capacity-spill', 150_000);
    expectAllChecks(result, output);
    expect(code).toBe(0);
    const n = result.numbers;
    expect(Number(n.us_rps_settled)).toBeLessThanOrEqual(204);
    expect(Number(n.us_rps_settled)).toBeGreaterThan(180); // spilling, not starving the near origin
    expect(Number(n.eu_rps_settled)).toBeGreaterThan(80);
    expect(Number(n.cycles_to_settle_measured)).toBeLessThanOrEqual(Number(n.cycles_allowed));
    expect(Number(n.cycles_allowed)).toBe(Number(n.cycles_damping_law) + 1);
    expect(Number(n.client_errors_per_s_after_failover)).toBe(0);
    expect(Number(n.false_failovers)).toBe(0);
    expect(existsSync(result.files.chart!)).toBe(true);
    expect(readFileSync(result.files.chart!, 'utf8')).toContain('<svg');
    expect(leftovers(readState(stateDir)!)).toEqual([]);
  }, 200_000);

  it('capacity spill on three control-plane replicas (PostgreSQL), the scheduler leader killed mid-walk: the walk continues, DNS and edge-sync switch replicas without a gap', async () => {
    const { code, result, output, stateDir } = await labUp('capacity-spill-ha', 240_000);
    expectAllChecks(result, output);
    expect(code).toBe(0);
    const n = result.numbers;
    expect(Number(n.us_rps_settled)).toBeLessThanOrEqual(204);
    expect(Number(n.cycles_to_settle_measured)).toBeLessThanOrEqual(Number(n.cycles_allowed));
    expect(Number(n.seconds_kill_to_next_decision)).toBeGreaterThan(0);
    expect(Number(n.client_errors_around_kill)).toBe(0);
    expect(Number(n.dns_answered_around_kill)).toBe(Number(n.dns_queries_around_kill));
    expect(Number(n.edge_sync_failovers)).toBeGreaterThanOrEqual(1);
    expect(Number(n.dns_failovers)).toBeGreaterThanOrEqual(1);
    expect(leftovers(readState(stateDir)!)).toEqual([]);
  }, 300_000);

  it('health seen from several places: a control-plane partition changes nothing, an edge partition moves only that edge, a real failure moves everyone', async () => {
    const { code, result, output, stateDir } = await labUp('health-vantage', 150_000);
    expectAllChecks(result, output);
    expect(code).toBe(0);
    const n = result.numbers;
    expect(Number(n.vantage_points)).toBe(3);
    expect(Number(n.main_rps_during_cp_partition)).toBeGreaterThanOrEqual(0.95 * Number(n.main_rps_before_cp_partition));
    expect(Number(n['edge-a_sessions_to_main_after_detection'])).toBe(0);
    expect(Number(n['edge-a_client_errors_sent_after_detection'])).toBe(0);
    expect(Number(n['main_rps_from_edge-b_during'])).toBeGreaterThanOrEqual(0.9 * Number(n['main_rps_from_edge-b_before']));
    expect(Number(n.client_errors_sent_after_quorum)).toBe(0);
    expect(leftovers(readState(stateDir)!)).toEqual([]);
  }, 200_000);

  it('starved machine: the spill with EU 120 ms away and a CPU hog beside the control plane: no false failover, US settles <= 200 rps +2 %', async () => {
    const { code, result, output, stateDir } = await labUp('capacity-spill-starved', 150_000);
    expectAllChecks(result, output);
    expect(code).toBe(0);
    const n = result.numbers;
    expect(Number(n.false_failovers)).toBe(0);
    expect(Number(n.us_rps_settled)).toBeLessThanOrEqual(204);
    expect(Number(n.us_rps_settled)).toBeGreaterThan(180);
    expect(leftovers(readState(stateDir)!)).toEqual([]);
  }, 200_000);

  it('passive latency learning: RTTs within ±10 %, dig answers the nearest origin, geolocation first after a cold start', async () => {
    const { code, result, output, stateDir } = await labUp('latency-learning', 120_000);
    expectAllChecks(result, output);
    expect(code).toBe(0);
    const rtt = (k: string) => Number(result.numbers[k]);
    expect(Math.abs(rtt('rtt_ms eastus 10.91.1.0/24 -> west-europe') - 85)).toBeLessThanOrEqual(8.5);
    expect(Math.abs(rtt('rtt_ms eastus 10.91.1.0/24 -> southeast-asia') - 220)).toBeLessThanOrEqual(22);
    expect(Number(result.numbers.answers_geo_after_restart)).toBeGreaterThan(0);
    expect(Number(result.numbers.answers_learned_after_restart)).toBeGreaterThan(0);
    expect(readFileSync(result.files.rtt!, 'utf8')).toContain('| eastus 10.91.1.0/24 | west-europe | 85 |');
    expect(leftovers(readState(stateDir)!)).toEqual([]);
  }, 160_000);

  // Run with every link over TLS (SLUICE_LAB_TLS=1, issue 18): the same checks hold when the control
  // plane, Prometheus, the agents', edge-sync's and DNS's metrics speak HTTPS with client certificates.
  it('failover through DNS, every link over TLS: gone within a cycle of detection, back paced after recovery', async () => {
    const { code, result, output, stateDir } = await labUp('dns-failover', 120_000, { SLUICE_LAB_TLS: '1' });
    expectAllChecks(result, output);
    expect(code).toBe(0);
    expect(Number(result.numbers.cycles_recovery_to_all_back)).toBeGreaterThanOrEqual(2);
    const state = readState(stateDir)!;
    expect(state.tls).toBeDefined();
    expect(state.urls.control_plane).toMatch(/^https:\/\//);
    expect(state.urls.prometheus).toMatch(/^https:\/\//);
    expect(output).toContain('every link over TLS');
    expect(leftovers(state)).toEqual([]);
  }, 160_000);
});
