// TSIG interoperability (RFC 8945) with the real server and two independent clients: kdig (knot's
// libknot) and dig (BIND). Both sign their queries and verify sluice's signed answers; a key sluice
// does not know gets NOTAUTH/BADKEY, never an ordinary answer.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { record, threeOrigins, view } from '../dns/testing/fixtures.ts';
import { buildQuery, decodeResponse, udpExchange } from '../dns/testing/packets.ts';
import { unavailable } from './helpers/env.ts';
import { freeServerPort } from './helpers/ports.ts';
import { startSluice, type SluiceProcess } from './helpers/sluice-process.ts';
import { waitFor } from './helpers/wait.ts';

const run = promisify(execFile);
const skip = unavailable({ tools: { kdig: 'knot-dnsutils', dig: 'dnsutils' } });
const SECRET = randomBytes(32).toString('base64');

describe.skipIf(skip)('sluice dns TSIG with kdig and dig', () => {
  let dir: string;
  let port: number;
  let proc: SluiceProcess;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sluice-dns-tsig-'));
    port = await freeServerPort();
    writeFileSync(join(dir, 'view.json'), JSON.stringify(view('example.com', [record('app.example.com', threeOrigins(), { subnets: { '10.0.0.0/8': { 'us-east': 1 } } })])));
    writeFileSync(join(dir, 'dns.yaml'), `listen: ["127.0.0.1:${port}"]\nview_file: view.json\ntsig_keys: [{ name: transfer.example.com, secret: "${SECRET}" }]\n`);
    proc = startSluice(['dns', '--config', join(dir, 'dns.yaml')]);
    await waitFor(async () => decodeResponse(await udpExchange(port, buildQuery({ name: 'app.example.com' }), { timeoutMs: 300 })).answers.length === 1, {
      timeoutMs: 20_000,
      what: `sluice dns to answer; output: ${proc.output()}`,
    });
  });

  afterAll(async () => {
    await proc?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const kdig = async (...args: string[]) => {
    const r = await run('kdig', [`@127.0.0.1`, '-p', String(port), '+timeout=2', '+retry=1', ...args]);
    return r.stdout + r.stderr;
  };

  it.each([['UDP', '+notcp'], ['TCP', '+tcp']])('kdig signs, sluice verifies and signs the answer, kdig verifies it (%s)', async (_t, transport) => {
    const out = await kdig('app.example.com', 'A', '+subnet=10.1.2.0/24', transport, '-y', `hmac-sha256:transfer.example.com:${SECRET}`);
    expect(out).toMatch(/status: NOERROR/);
    expect(out).toMatch(/app\.example\.com\.\s+30\s+IN\s+A\s+203\.0\.113\.30/);
    expect(out).toMatch(/transfer\.example\.com\.\s+0\s+ANY\s+TSIG\s+hmac-sha256\. \d+ 300 32 \S+ \d+ NOERROR 0/);
    expect(out).not.toMatch(/WARNING|failed to verify/i);
  });

  it('dig (BIND) verifies the signed answer too, also for NXDOMAIN', async () => {
    const r = await run('dig', ['@127.0.0.1', '-p', String(port), '+tries=1', '+time=2', 'nope.example.com', '-y', `hmac-sha256:transfer.example.com:${SECRET}`]);
    expect(r.stdout).toMatch(/status: NXDOMAIN/);
    expect(r.stdout).toMatch(/TSIG\s+hmac-sha256\. \d+ 300 32/);
    expect(r.stdout + r.stderr).not.toMatch(/Couldn't verify|could not be validated|tsig verify failure/i);
  });

  it('a key sluice does not know gets NOTAUTH with BADKEY and no answer; a wrong secret BADSIG', async () => {
    let out = await kdig('app.example.com', '-y', `hmac-sha256:other.example.com:${SECRET}`);
    expect(out).toMatch(/status: BADKEY/); // kdig shows the TSIG error over the header's NOTAUTH
    expect(out).toMatch(/ANSWER: 0/);
    out = await kdig('app.example.com', '-y', `hmac-sha256:transfer.example.com:${randomBytes(32).toString('base64')}`);
    expect(out).toMatch(/status: BADSIG/);
    expect(out).toMatch(/ANSWER: 0/);
  });
});
