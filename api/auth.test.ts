// Where the control plane may listen (assertSafeBind): the same rule for auth and for TLS. Loopback is
// always allowed; beyond it the API needs credentials, and TLS unless `insecure: true` says the
// operator accepts plain HTTP (it then returns true, for the caller to log loudly).
import { describe, expect, it } from 'vitest';
import { assertSafeBind, tokenSets } from './auth.ts';

const tokens = tokenSets({ admin_tokens: ['admin-token-0123456789'], read_tokens: [] });
const none = tokenSets({ admin_tokens: [], read_tokens: [] });
const certRolesOnly = { tokens: none, certificateRoles: { admin: new Set(['sluice-admin']), report: new Set<string>(), read: new Set<string>() } };

describe('assertSafeBind', () => {
  const rows: [string, string, Parameters<typeof assertSafeBind>[1], { tls: boolean; insecure: boolean }, boolean | RegExp][] = [
    ['loopback, open, plain', '127.0.0.1', none, { tls: false, insecure: false }, false],
    ['::1, open, plain', '::1', none, { tls: false, insecure: false }, false],
    ['network, open, TLS', '0.0.0.0', none, { tls: true, insecure: false }, /no auth tokens are configured/],
    ['network, tokens, TLS', '10.0.0.5', tokens, { tls: true, insecure: false }, false],
    ['network, certificate roles only, TLS', '10.0.0.5', certRolesOnly, { tls: true, insecure: false }, false],
    ['network, tokens, plain', '10.0.0.5', tokens, { tls: false, insecure: false }, /refusing to listen on 10\.0\.0\.5 without TLS: .*Set tls\.cert_file and tls\.key_file, or set insecure: true/],
    ['network, tokens, plain, insecure: true', '10.0.0.5', tokens, { tls: false, insecure: true }, true],
    ['network, open, plain, insecure: true (insecure does not open the API)', '0.0.0.0', none, { tls: false, insecure: true }, /no auth tokens are configured/],
  ];
  for (const [what, host, auth, transport, expected] of rows) {
    it(what, () => {
      if (expected instanceof RegExp) expect(() => assertSafeBind(host, auth, transport)).toThrow(expected);
      else expect(assertSafeBind(host, auth, transport)).toBe(expected);
    });
  }
});
