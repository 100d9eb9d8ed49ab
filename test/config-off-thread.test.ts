// lib/config-off-thread.ts with the agent's real loader: the same value, the same errors, in a worker.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadAgentConfig, type AgentConfig } from '../agent/config.ts';
import { ConfigError } from '../lib/config-error.ts';
import { loadConfigOffThread } from '../lib/config-off-thread.ts';

const AGENT_CONFIG = new URL('../agent/config.ts', import.meta.url);
const EXAMPLE = new URL('../examples/agent.yaml', import.meta.url).pathname;

describe('loadConfigOffThread', () => {
  it('returns what the loader returns in-process', async () => {
    expect(await loadConfigOffThread<AgentConfig>(AGENT_CONFIG, 'loadAgentConfig', EXAMPLE)).toEqual(loadAgentConfig(EXAMPLE));
  });

  it('throws the same ConfigError (file, key, expectation)', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'sluice-cfg-')), 'agent.yaml');
    writeFileSync(file, 'service_ports: [80]\newma_alpha: 3\npoll_intervall: 1s\n');
    let inProcess: unknown;
    try {
      loadAgentConfig(file);
    } catch (err) {
      inProcess = err;
    }
    const offThread = await loadConfigOffThread(AGENT_CONFIG, 'loadAgentConfig', file).catch((err: unknown) => err);
    expect(offThread).toBeInstanceOf(ConfigError);
    expect((offThread as ConfigError).problems).toEqual((inProcess as ConfigError).problems);
    expect((offThread as ConfigError).message).toContain('ewma_alpha');
  });

  it('says which loader is missing', async () => {
    await expect(loadConfigOffThread(AGENT_CONFIG, 'noSuchLoader', EXAMPLE)).rejects.toThrow(/does not export a loader named noSuchLoader/);
  });
});
