// The kernel's own count of accepted TCP connections: `Tcp: PassiveOpens` in /proc/net/snmp (per network
// namespace; readable by any user). A dump only sees connections alive at poll time; comparing what the
// agent counted with this counter measures the demand it missed (see README "Churn").
import { readFileSync } from 'node:fs';

/** Parses /proc/net/snmp text; null when the Tcp PassiveOpens column is missing or not a number. */
export function parsePassiveOpens(text: string): number | null {
  const lines = text.split('\n').filter((l) => l.startsWith('Tcp:'));
  if (lines.length < 2) return null;
  const names = lines[0]!.trim().split(/\s+/);
  const values = lines[1]!.trim().split(/\s+/);
  const i = names.indexOf('PassiveOpens');
  if (i < 0 || values.length !== names.length) return null;
  const v = Number(values[i]);
  return Number.isFinite(v) && v >= 0 ? v : null;
}

export function readPassiveOpens(path = '/proc/net/snmp'): number | null {
  try {
    return parsePassiveOpens(readFileSync(path, 'utf8'));
  } catch {
    return null;
  }
}
