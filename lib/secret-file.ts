// Reading secrets (private keys, bearer tokens, passwords) from files, with the file's permissions
// checked first, so a key that anyone on the host can read is refused at start instead of used.
//
// The rule is PostgreSQL's for its server key (be-secure-common.c), which is OpenSSH's ("permissions
// 0644 for 'id_ed25519' are too open") plus the one layout services need: a key owned by root may be
// readable by its group (root:sluice-cp 0640, as deploy/ and cert-manager/certbot hooks install them),
// never writable by it; a key owned by anyone else must be readable by its owner only (0600/0400). No
// permission for "others", ever.
//
// Secrets never appear in errors or logs: messages name the file, the config key and the mode, never
// the content.
import { readFileSync, statSync, type Stats } from 'node:fs';

export class SecretFileError extends Error {
  constructor(
    /** The config key that named the file (e.g. "tls.key_file"). */
    readonly key: string,
    message: string,
  ) {
    super(message);
    this.name = 'SecretFileError';
  }
}

/** Why a secret file with these stats must not be used, or null when it may. Pure (for tests). */
export function secretModeProblem(st: Pick<Stats, 'mode' | 'uid' | 'isFile'>, platform: NodeJS.Platform = process.platform): string | null {
  if (!st.isFile()) return 'is not a regular file';
  // Windows has no POSIX modes (ACLs instead): nothing meaningful to check.
  if (platform === 'win32') return null;
  const mode = st.mode & 0o777;
  const octal = `0${mode.toString(8).padStart(3, '0')}`;
  if (mode & 0o007) return `has permissions ${octal}: readable or writable by every user on the host; chmod 0600 (or 0640 with owner root)`;
  if (st.uid === 0 ? mode & 0o030 : mode & 0o070) {
    return st.uid === 0
      ? `has permissions ${octal}: its group may write it; chmod 0640 (owner root, group of the service)`
      : `has permissions ${octal}: readable by its group; chmod 0600, or make root the owner (0640, group of the service)`;
  }
  return null;
}

/** Throws SecretFileError when `file` cannot be used as a secret (missing, not a file, too open). */
export function checkSecretFile(key: string, file: string): void {
  let st: Stats;
  try {
    st = statSync(file);
  } catch (err) {
    throw new SecretFileError(key, `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const problem = secretModeProblem(st);
  if (problem) throw new SecretFileError(key, `refusing ${file}: it ${problem}`);
}

/** The whole file, permissions checked first. */
export function readSecretFile(key: string, file: string): string {
  checkSecretFile(key, file);
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new SecretFileError(key, `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** A token or password file: its first line without trailing white space; an empty one is an error. */
export function readSecretLine(key: string, file: string): string {
  const line = readSecretFile(key, file).split('\n')[0]!.trimEnd();
  if (!line) throw new SecretFileError(key, `${file} is empty`);
  return line;
}
