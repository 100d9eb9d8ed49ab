// A throwaway PKI made with the real `openssl` CLI for TLS tests, the lab and the benchmark: a CA, a
// second unrelated CA ("wrong CA"), and certificates issued by either — server certificates for given
// names and addresses, client certificates with a subject OU (the role mTLS maps), a certificate for
// the wrong name, and an expired one (`openssl ca -startdate/-enddate`: real past dates, no faketime).
// EC P-256 keys (fast to make); private keys are written 0600, as sluice requires.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isIP } from 'node:net';

export interface CertPair {
  cert: string;
  key: string;
}

export interface IssueOptions {
  cn: string;
  ou?: string;
  /** DNS names and IP addresses for subjectAltName. */
  sans?: string[];
  /** extendedKeyUsage: serverAuth (default), clientAuth, or both (a host's one certificate for both ends). */
  usage?: 'server' | 'client' | 'both';
  /** Sign with the unrelated CA. */
  foreign?: boolean;
  /** Valid only in 2020 (expired). */
  expired?: boolean;
}

export interface TestPki {
  dir: string;
  /** The CA bundle clients and servers trust. */
  ca: string;
  /** A CA nobody trusts. */
  otherCa: string;
  issue(name: string, o: IssueOptions): CertPair;
  remove(): void;
}

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: 'pipe' });
  } catch (err) {
    throw new Error(`openssl ${args.join(' ')} failed: ${(err as { stderr?: Buffer }).stderr?.toString() ?? (err as Error).message}`);
  }
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** A new PKI in a fresh temp dir, or in `dir` (created; the lab keeps its PKI in its state dir). */
export function makeTestPki(dir: string = mkdtempSync(join(tmpdir(), 'sluice-pki-'))): TestPki {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const makeCa = (name: string, cn: string) => {
    openssl(['req', '-x509', ...EC, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '3650', '-subj', `/CN=${cn}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
    chmodSync(join(dir, `${name}.key`), 0o600);
    // `openssl ca` (used for the expired certificate) keeps a database beside each CA.
    writeFileSync(join(dir, `${name}.index`), '');
    writeFileSync(join(dir, `${name}.serial`), '1000\n');
    writeFileSync(
      join(dir, `${name}.cnf`),
      ['[ca]', 'default_ca = d', '[d]', `database = ${name}.index`, `serial = ${name}.serial`, 'new_certs_dir = .', 'default_md = sha256', 'policy = p', 'unique_subject = no', '[p]', 'commonName = supplied', 'organizationalUnitName = optional', ''].join('\n'),
    );
  };
  makeCa('ca', 'sluice test CA');
  makeCa('other-ca', 'some other CA');
  let serial = 100;
  return {
    dir,
    ca: join(dir, 'ca.crt'),
    otherCa: join(dir, 'other-ca.crt'),
    issue(name, o) {
      const issuer = o.foreign ? 'other-ca' : 'ca';
      const subj = `/CN=${o.cn}${o.ou ? `/OU=${o.ou}` : ''}`;
      openssl(['req', '-new', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subj], dir);
      chmodSync(join(dir, `${name}.key`), 0o600);
      const sans = (o.sans ?? []).map((s) => (isIP(s) ? `IP:${s}` : `DNS:${s}`));
      const ext = [
        'basicConstraints = critical,CA:FALSE',
        `keyUsage = critical,digitalSignature`,
        `extendedKeyUsage = ${{ server: 'serverAuth', client: 'clientAuth', both: 'serverAuth,clientAuth' }[o.usage ?? 'server']}`,
        ...(sans.length > 0 ? [`subjectAltName = ${sans.join(',')}`] : []),
        '',
      ].join('\n');
      writeFileSync(join(dir, `${name}.ext`), ext);
      if (o.expired) {
        openssl(['ca', '-batch', '-notext', '-config', `${issuer}.cnf`, '-cert', `${issuer}.crt`, '-keyfile', `${issuer}.key`, '-in', `${name}.csr`, '-out', `${name}.crt`, '-startdate', '20200101000000Z', '-enddate', '20200201000000Z', '-extfile', `${name}.ext`], dir);
      } else {
        openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${issuer}.crt`, '-CAkey', `${issuer}.key`, '-set_serial', String(serial++), '-days', '30', '-sha256', '-out', `${name}.crt`, '-extfile', `${name}.ext`], dir);
      }
      return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** The certificates most TLS tests need, for a server reachable at `sans` (default localhost/127.0.0.1/::1). */
export function standardCerts(pki: TestPki, sans: string[] = ['localhost', '127.0.0.1', '::1']) {
  return {
    server: pki.issue('server', { cn: 'sluice-control-plane', sans }),
    /** Same names, new key: what a renewal puts on disk. */
    renewed: pki.issue('renewed', { cn: 'sluice-control-plane-renewed', sans }),
    wrongName: pki.issue('wrong-name', { cn: 'elsewhere', sans: ['wrong.example.net'] }),
    expired: pki.issue('expired', { cn: 'sluice-control-plane-expired', sans, expired: true }),
    foreign: pki.issue('foreign', { cn: 'sluice-control-plane', sans, foreign: true }),
    clientRead: pki.issue('client-read', { cn: 'dns-eu-1', ou: 'sluice-read', usage: 'client' }),
    clientAdmin: pki.issue('client-admin', { cn: 'operator', ou: 'sluice-admin', usage: 'client' }),
    clientNoRole: pki.issue('client-norole', { cn: 'someone', ou: 'elsewhere', usage: 'client' }),
    clientForeign: pki.issue('client-foreign', { cn: 'dns-eu-1', ou: 'sluice-read', usage: 'client', foreign: true }),
  };
}
export type StandardCerts = ReturnType<typeof standardCerts>;
