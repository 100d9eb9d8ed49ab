// `sluice prometheus-rules [--config FILE] [--window D] [--stale D] [--interval D]`: prints the
// Prometheus recording rules that pre-aggregate the scheduler's inputs (scheduler/inputs/
// recording-rules.ts) for a large fleet. The window, stale span and evaluation interval come from the
// control plane's config (`scheduler:` section) when given, else the defaults; flags win over both.
// Load the output with rule_files: and set scheduler.prometheus.recording_rules: true.
import { parseCommandLine, UsageError } from '../lib/cli-args.ts';
import { ConfigError, issueProblems, readConfigDocument, validateConfig } from '../lib/config-file.ts';
import { parseDuration } from '../model/primitives.ts';
import { SchedulerConfig } from './config.ts';
import { rulesFile } from './inputs/recording-rules.ts';

const USAGE = `usage: sluice prometheus-rules [--config FILE] [--window D] [--stale D] [--interval D]

Prints a Prometheus rules file (YAML) recording exactly what the scheduler's queries read, reduced
over scrape instances: load it with rule_files:, check it with \`promtool check rules\`, and set
scheduler.prometheus.recording_rules: true.
  --config FILE   the control plane's config: window, stale and interval from its scheduler: section
  --window D      rate() window (default: scheduler.prometheus.window, 60s)
  --stale D       how old a gauge may be (default: scheduler.prometheus.stale, 120s)
  --interval D    the rule group's evaluation interval (default: scheduler.interval, 15s)`;

function seconds(flag: string, text: string | undefined, fallbackMs: number): number {
  if (text === undefined) return Math.round(fallbackMs / 1000);
  const ms = parseDuration(text);
  // Recorded names carry whole seconds, as the scheduler renders its queries.
  if (ms === null || ms < 1000 || ms % 1000 !== 0) throw new UsageError(`--${flag} ${text}: expected a whole number of seconds, at least 1s, e.g. "60s"\n\n${USAGE}`);
  return ms / 1000;
}

export async function run(argv: string[]): Promise<number> {
  const parsed = parseCommandLine(argv, { config: { type: 'string' }, window: { type: 'string' }, stale: { type: 'string' }, interval: { type: 'string' } }, USAGE);
  if (!parsed) return 0;
  const v = parsed.values;
  let config = validateConfig(SchedulerConfig, {}, '(defaults)');
  if (v.config) {
    const { doc, locate } = readConfigDocument(v.config);
    const section = (doc as { scheduler?: unknown } | null)?.scheduler ?? {};
    const parsed = SchedulerConfig.safeParse(section);
    // Keys named from the top of the file (scheduler.prometheus.window), as the control plane names them.
    if (!parsed.success) throw new ConfigError(v.config, issueProblems(parsed.error.issues, ['scheduler'], locate));
    config = parsed.data;
  }
  const text = rulesFile({
    windowSeconds: seconds('window', v.window, config.prometheus?.window ?? 60_000),
    staleSeconds: seconds('stale', v.stale, config.prometheus?.stale ?? 120_000),
    intervalSeconds: seconds('interval', v.interval, config.interval),
  });
  process.stdout.write(text);
  return 0;
}
