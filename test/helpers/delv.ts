// BIND's delv (Debian package bind9-dnsutils): a validating lookup that trusts only the anchor file
// the test writes. It queries the server given (sluice itself) and validates every answer down from
// the anchor; it prints "; fully validated" (or "; negative response, fully validated") only then.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Writes a delv anchor file for `zone` from a DS line ("zone. TTL IN DS tag alg digesttype HEX"). */
export function writeDelvAnchor(file: string, dsLine: string): void {
  const [owner, , , , tag, alg, digestType, digest] = dsLine.trim().split(/\s+/);
  writeFileSync(file, `trust-anchors {\n  "${owner}" static-ds ${tag} ${alg} ${digestType} "${digest}";\n};\n`);
}

export interface DelvResult {
  validated: boolean;
  output: string;
}

export async function delv(port: number, anchorFile: string, anchorZone: string, name: string, type = 'A'): Promise<DelvResult> {
  let output: string;
  try {
    const r = await run('delv', ['@127.0.0.1', '-p', String(port), '-a', anchorFile, `+root=${anchorZone}`, name, type], { timeout: 30_000 });
    output = r.stdout + r.stderr;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    output = `${e.stdout ?? ''}${e.stderr ?? ''}${e.message}`;
  }
  return { validated: /^; (negative response, )?fully validated$/m.test(output), output };
}
