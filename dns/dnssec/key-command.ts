// `sluice dns keygen | ds | settime | keys`: make and schedule DNSSEC keys, and print the DS records
// the parent zone needs. Keys are BIND-format files (keys.ts); the server reads them from
// `dnssec.key_directory` at start and on SIGHUP. A rollover is a sequence of these commands (or one
// schedule of times set in advance): see dns/README.md, "Key rollover".
import { parseCommandLine, UsageError } from '../../lib/cli-args.ts';
import { applyTimingChanges, describeState, dsKeys, dsLine, generateZoneKey, keysIn, keyState, parseTimeArg, TIME_HELP, type TimingChanges } from './key-admin.ts';
import { formatKeyTime, KeyFileError, readKey, TIMING_FIELDS, writeKeyFiles, type DnssecKey, type TimingField } from './keys.ts';
import { FLAGS_KSK } from './wire.ts';

const USAGE = `usage:
  sluice dns keygen --zone ZONE --dir DIR [--type csk|ksk|zsk] [timing options]
  sluice dns ds --dir DIR [--zone ZONE] [--ttl SECONDS]
  sluice dns settime --key FILE [timing options]
  sluice dns keys --dir DIR [--zone ZONE]

keygen   makes an ECDSA P-256 (algorithm 13) key pair: DIR/K<zone>.+013+<tag>.key and .private
         (mode 0600), and prints its DS when it is a KSK or CSK (--type; default csk: one key signs all)
ds       prints the DS records (SHA-256) of the zone's key-signing keys, for the parent zone
settime  changes a key's timing (the rollover schedule); send SIGHUP to sluice dns afterwards
keys     lists keys and what each does now

timing options (defaults for keygen: --publish now --activate now; KSK/CSK also --sync-publish now):
  --publish TIME        DNSKEY published from TIME
  --activate TIME       signs from TIME
  --inactive TIME       stops signing at TIME
  --delete TIME         DNSKEY removed at TIME
  --sync-publish TIME   CDS/CDNSKEY (RFC 7344) published from TIME (KSK/CSK)
  --sync-delete TIME    CDS/CDNSKEY removed at TIME
${TIME_HELP}`;

const TIMING_OPTIONS: Record<string, TimingField> = {
  publish: 'Publish',
  activate: 'Activate',
  inactive: 'Inactive',
  delete: 'Delete',
  'sync-publish': 'SyncPublish',
  'sync-delete': 'SyncDelete',
};

const timingSpec = Object.fromEntries(Object.keys(TIMING_OPTIONS).map((k) => [k, { type: 'string' as const }]));

type Out = (text: string) => void;

/** Runs one key subcommand; `out` receives what goes to stdout. Returns the exit code. */
export async function runKeyCommand(sub: string, argv: string[], out: Out = (t) => process.stdout.write(t), nowMs = Date.now()): Promise<number> {
  try {
    return keyCommand(sub, argv, out, Math.floor(nowMs / 1000));
  } catch (err) {
    // A key that cannot be read or written: say which file and why, without a stack trace.
    if (err instanceof KeyFileError || (err as NodeJS.ErrnoException).code === 'EEXIST') {
      process.stderr.write(`sluice dns ${sub}: ${(err as Error).message}\n`);
      return 1;
    }
    throw err;
  }
}

function keyCommand(sub: string, argv: string[], out: Out, now: number): number {
  switch (sub) {
    case 'keygen': {
      const a = parseCommandLine(argv, { zone: { type: 'string' }, dir: { type: 'string' }, type: { type: 'string' }, ...timingSpec }, USAGE);
      if (!a) return 0;
      const zone = required(a.values.zone, '--zone');
      const dir = required(a.values.dir, '--dir');
      const type = a.values.type ?? 'csk';
      if (type !== 'csk' && type !== 'ksk' && type !== 'zsk') throw new UsageError(`--type ${type}: expected csk, ksk or zsk\n\n${USAGE}`);
      const key = generateZoneKey(dir, zone, type, timingChanges(a.values as Record<string, string | undefined>, now), now);
      out(`${key.path}.key\n${key.path}.private\n`);
      if (key.flags === FLAGS_KSK) out(`${dsLine(key, 3600)}\n`);
      return 0;
    }
    case 'ds': {
      const a = parseCommandLine(argv, { dir: { type: 'string' }, zone: { type: 'string' }, ttl: { type: 'string' } }, USAGE);
      if (!a) return 0;
      const ttl = a.values.ttl === undefined ? 3600 : Number(a.values.ttl);
      if (!Number.isInteger(ttl) || ttl < 0) throw new UsageError(`--ttl ${a.values.ttl}: expected a whole number of seconds`);
      const keys = dsKeys(keysIn(required(a.values.dir, '--dir'), a.values.zone), now);
      if (keys.length === 0) {
        process.stderr.write('no key-signing keys (KSK or CSK) found\n');
        return 1;
      }
      for (const k of keys) out(`; ${k.zone} key ${k.tag}: ${describeState(keyState(k, now))}\n${dsLine(k, ttl)}\n`);
      return 0;
    }
    case 'settime': {
      const a = parseCommandLine(argv, { key: { type: 'string' }, ...timingSpec }, USAGE);
      if (!a) return 0;
      const key = readKey(required(a.values.key, '--key'));
      applyTimingChanges(key.timing, timingChanges(a.values as Record<string, string | undefined>, now));
      writeKeyFiles(key, false);
      out(`${key.path}: ${describeTiming(key)}\n`);
      return 0;
    }
    case 'keys': {
      const a = parseCommandLine(argv, { dir: { type: 'string' }, zone: { type: 'string' } }, USAGE);
      if (!a) return 0;
      for (const k of keysIn(required(a.values.dir, '--dir'), a.values.zone)) {
        out(`${k.zone} ${k.tag} ${k.flags === FLAGS_KSK ? 'KSK/CSK' : 'ZSK'} ${describeState(keyState(k, now))}  ${describeTiming(k)}\n`);
      }
      return 0;
    }
    default:
      throw new UsageError(`unknown key command "${sub}"\n\n${USAGE}`);
  }
}

function required(v: string | undefined, name: string): string {
  if (!v) throw new UsageError(`${name} is required\n\n${USAGE}`);
  return v;
}

function describeTiming(k: DnssecKey): string {
  return TIMING_FIELDS.filter((f) => k.timing[f] !== undefined).map((f) => `${f}=${formatKeyTime(k.timing[f]!)}`).join(' ');
}

function timingChanges(values: Record<string, string | undefined>, now: number): TimingChanges {
  const changes: TimingChanges = {};
  for (const [opt, field] of Object.entries(TIMING_OPTIONS) as [string, TimingField][]) {
    const v = values[opt];
    if (v === undefined) continue;
    const t = parseTimeArg(v, now);
    if (t === undefined) throw new UsageError(`--${opt} ${v}: ${TIME_HELP}`);
    changes[field] = t;
  }
  return changes;
}
