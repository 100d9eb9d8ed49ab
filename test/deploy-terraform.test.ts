// terraform/: there is no terraform binary and no cloud here, so the modules are checked statically.
// Every .tf parses with HCL's own parser (@cdktf/hcl2json, the Go HCL library built to WASM), and
// per module: every var./local./module. reference resolves, every variable is used and documented,
// providers and terraform are pinned, outputs exist and are marked sensitive when they carry a
// sensitive value (as terraform would require), templatefile()/file() targets exist and each
// templatefile() call passes exactly the variables its template reads; the example wires the modules
// with every required input and only declared ones, as terraform/README.md says; and every file
// holds the common `terraform fmt` rules (terraform/tools/fmt-check.ts).
import { parse } from '@cdktf/hcl2json';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkTerraformFormat } from '../terraform/tools/fmt-check.ts';
import { templateVariables } from '../terraform/tools/template.ts';
import { REPO_ROOT } from './helpers/sluice-process.ts';

const TF_ROOT = join(REPO_ROOT, 'terraform');
const MODULE_DIRS = readdirSync(join(TF_ROOT, 'modules')).map((d) => join(TF_ROOT, 'modules', d));
const EXAMPLE_DIRS = readdirSync(join(TF_ROOT, 'examples')).map((d) => join(TF_ROOT, 'examples', d));
const ALL_DIRS = [...MODULE_DIRS, ...EXAMPLE_DIRS];

type Json = Record<string, unknown>;

interface TfDir {
  dir: string;
  files: Record<string, string>;
  variables: Record<string, Json>;
  outputs: Record<string, Json>;
  locals: Record<string, unknown>;
  modules: Record<string, Json>;
  resources: Record<string, Record<string, Json>>;
  terraform: Json[];
  providers: Json[];
}

async function loadDir(dir: string): Promise<TfDir> {
  const out: TfDir = { dir, files: {}, variables: {}, outputs: {}, locals: {}, modules: {}, resources: {}, terraform: [], providers: [] };
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.tf'))) {
    const text = readFileSync(join(dir, f), 'utf8');
    out.files[f] = text;
    const doc = (await parse(f, text)) as Record<string, unknown>;
    const first = (v: unknown) => (Array.isArray(v) ? (v[0] as Json) : (v as Json));
    for (const [k, v] of Object.entries((doc.variable as Record<string, unknown>) ?? {})) out.variables[k] = first(v);
    for (const [k, v] of Object.entries((doc.output as Record<string, unknown>) ?? {})) out.outputs[k] = first(v);
    for (const block of (doc.locals as Json[]) ?? []) Object.assign(out.locals, block);
    for (const [k, v] of Object.entries((doc.module as Record<string, unknown>) ?? {})) out.modules[k] = first(v);
    for (const [type, byName] of Object.entries((doc.resource as Record<string, Record<string, unknown>>) ?? {})) {
      for (const [name, v] of Object.entries(byName)) (out.resources[type] ??= {})[name] = first(v);
    }
    out.terraform.push(...((doc.terraform as Json[]) ?? []));
    out.providers.push(...Object.values((doc.provider as Record<string, Json[]>) ?? {}).flat());
  }
  return out;
}

/** Every string in a parsed value (expressions come back as "${...}" strings). */
function strings(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.flatMap(strings);
  if (v && typeof v === 'object') return Object.values(v).flatMap(strings);
  return [];
}

const refs = (text: string, kind: 'var' | 'local') => [...text.matchAll(new RegExp(`\\b${kind}\\.([A-Za-z_][A-Za-z0-9_-]*)`, 'g'))].map((m) => m[1]!);
const moduleOutputRefs = (text: string) => [...text.matchAll(/\bmodule\.([A-Za-z_][\w-]*)(?:\[[^\]]*\])?\.([A-Za-z_][\w-]*)/g)].map((m) => ({ module: m[1]!, output: m[2]! }));

/** Variables an expression depends on, following locals. */
function varsBehind(text: string, dir: TfDir, seen = new Set<string>()): Set<string> {
  const vars = new Set(refs(text, 'var'));
  for (const l of refs(text, 'local')) {
    if (seen.has(l)) continue;
    seen.add(l);
    for (const v of varsBehind(strings(dir.locals[l]).join('\n'), dir, seen)) vars.add(v);
  }
  return vars;
}

/** The object literal passed to templatefile(path, { ... }) calls, from the raw source. */
function templatefileCalls(text: string): { path: string; keys: string[] }[] {
  const calls: { path: string; keys: string[] }[] = [];
  for (const m of text.matchAll(/templatefile\("([^"]+)",\s*\{/g)) {
    let depth = 1;
    let i = m.index! + m[0].length;
    const start = i;
    for (; i < text.length && depth > 0; i++) {
      if (text[i] === '"') {
        for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
      } else if ('{[('.includes(text[i]!)) depth++;
      else if ('}])'.includes(text[i]!)) depth--;
    }
    // Keys are the attributes at depth 0 of the object body.
    const body = text.slice(start, i - 1);
    const keys: string[] = [];
    let d = 0;
    for (const line of body.split('\n')) {
      const k = d === 0 ? /^\s*([A-Za-z_][\w]*)\s*=(?!=)/.exec(line) : null;
      if (k) keys.push(k[1]!);
      for (const c of line.replace(/"(?:[^"\\]|\\.)*"/g, '""')) d += '{[('.includes(c) ? 1 : '}])'.includes(c) ? -1 : 0;
    }
    calls.push({ path: m[1]!, keys });
  }
  return calls;
}

/** Resolves "${path.module}/x" and "${local.name}/x" (a local that is itself a path string). */
function resolvePath(raw: string, dir: TfDir): string {
  return raw.replace(/\$\{(path\.module|local\.([\w]+))\}/g, (_all, what: string, local?: string) => {
    if (what === 'path.module') return dir.dir;
    const value = dir.locals[local!];
    if (typeof value !== 'string') throw new Error(`local.${local} is not a path string`);
    return resolvePath(value, dir);
  });
}

const dirs = new Map<string, TfDir>();
beforeAll(async () => {
  for (const d of ALL_DIRS) dirs.set(d, await loadDir(d));
});
const get = (d: string) => dirs.get(d)!;
const rel = (p: string) => relative(REPO_ROOT, p);

describe('terraform: every file parses', () => {
  it('hcl2json parses every .tf and .tfvars.example (and rejects broken HCL, so the check is real)', async () => {
    const files = ALL_DIRS.flatMap((d) => readdirSync(d).filter((f) => f.endsWith('.tf') || f.endsWith('.tfvars.example')).map((f) => join(d, f)));
    expect(files.length).toBeGreaterThanOrEqual(20);
    for (const f of files) await expect(parse(basename(f), readFileSync(f, 'utf8')), rel(f)).resolves.toBeTypeOf('object');
    await expect(parse('broken.tf', 'variable "x" {\n  type = string\n')).rejects.toThrow();
  });
});

for (const d of ALL_DIRS) {
  describe(`terraform: ${rel(d)}`, () => {
    it('every var., local. and module. reference is declared', () => {
      const dir = get(d);
      const text = Object.values(dir.files).join('\n');
      const exprs = strings([dir.variables, dir.outputs, dir.locals, dir.modules, dir.resources, dir.providers]).join('\n');
      for (const v of refs(exprs, 'var')) expect(Object.keys(dir.variables), `var.${v}`).toContain(v);
      for (const l of refs(exprs, 'local')) expect(Object.keys(dir.locals), `local.${l}`).toContain(l);
      for (const { module, output } of moduleOutputRefs(exprs)) {
        expect(Object.keys(dir.modules), `module.${module}`).toContain(module);
        const target = get(resolve(d, dir.modules[module]!.source as string));
        expect(Object.keys(target.outputs), `module.${module}.${output}`).toContain(output);
      }
      for (const m of text.matchAll(/\b(azurerm_[a-z_]+)\.([a-z_][\w]*)/g)) {
        expect(Object.keys(dir.resources[m[1]!] ?? {}), `${m[1]}.${m[2]}`).toContain(m[2]!);
      }
    });

    it('every variable is documented, typed and used; tokens are sensitive', () => {
      const dir = get(d);
      for (const [name, v] of Object.entries(dir.variables)) {
        expect(typeof v.description === 'string' && v.description.length > 10, `${name}: description`).toBe(true);
        expect(v.type, `${name}: type`).toBeDefined();
        if (/token|password|secret/.test(name)) expect(v.sensitive, `${name}: sensitive`).toBe(true);
        const elsewhere = strings([dir.outputs, dir.locals, dir.modules, dir.resources, dir.providers, Object.entries(dir.variables).filter(([n]) => n !== name)]).join('\n');
        expect(refs(elsewhere, 'var'), `var.${name} is never used`).toContain(name);
      }
    });

    it('terraform and its providers are pinned', () => {
      const dir = get(d);
      const tf = Object.assign({}, ...dir.terraform) as { required_version?: string; required_providers?: Record<string, { source: string; version: string }>[] };
      expect(tf.required_version, 'required_version').toMatch(/>=\s*1\.\d+\.\d+/);
      const providers = Object.assign({}, ...(tf.required_providers ?? [])) as Record<string, { source: string; version: string }>;
      const used = new Set(Object.keys(dir.resources).map((t) => t.split('_')[0]!));
      for (const p of used) {
        expect(providers[p]?.source, `${p} source`).toBe(`hashicorp/${p}`);
        expect(providers[p]?.version, `${p} version`).toMatch(/^~>\s*\d+\.\d+/);
      }
      for (const p of Object.keys(providers)) expect(used.has(p), `${p} is required but unused`).toBe(true);
    });

    it('has documented outputs, marked sensitive when they carry a sensitive value', () => {
      const dir = get(d);
      expect(Object.keys(dir.outputs).length).toBeGreaterThan(0);
      const sensitiveVars = new Set(Object.entries(dir.variables).filter(([, v]) => v.sensitive === true).map(([k]) => k));
      for (const [name, o] of Object.entries(dir.outputs)) {
        expect(typeof o.description === 'string' && o.description.length > 5, `${name}: description`).toBe(true);
        const behind = [...varsBehind(strings(o.value).join('\n'), dir)].filter((v) => sensitiveVars.has(v));
        if (behind.length > 0) expect(o.sensitive, `output ${name} carries ${behind.join(', ')}`).toBe(true);
      }
    });

    it('templatefile() calls pass exactly the variables their templates read; file() targets exist', () => {
      const dir = get(d);
      for (const [f, text] of Object.entries(dir.files)) {
        for (const call of templatefileCalls(text)) {
          const path = resolvePath(call.path, dir);
          expect(existsSync(path), `${f}: ${call.path}`).toBe(true);
          const wanted = [...templateVariables(readFileSync(path, 'utf8'))].sort();
          expect([...call.keys].sort(), `${f}: templatefile(${rel(path)})`).toEqual(wanted);
        }
        for (const m of text.matchAll(/\bfile\("([^"]+)"\)/g)) {
          const path = resolvePath(m[1]!, dir);
          expect(existsSync(path) && statSync(path).isFile(), `${f}: file(${m[1]})`).toBe(true);
        }
      }
    });

    it('holds the terraform fmt rules', () => {
      const files = readdirSync(d).filter((f) => f.endsWith('.tf') || f.endsWith('.tfvars.example'));
      const problems = files.flatMap((f) => checkTerraformFormat(readFileSync(join(d, f), 'utf8')).map((p) => `${f}:${p.line}: ${p.message}`));
      expect(problems).toEqual([]);
    });
  });
}

describe('terraform: the Azure example', () => {
  const EXAMPLE = join(TF_ROOT, 'examples/azure-three-regions');

  it('wires each module with every required input and only inputs the module declares', () => {
    const ex = get(EXAMPLE);
    const META = new Set(['source', 'count', 'for_each', 'depends_on', 'providers', 'version']);
    expect(Object.keys(ex.modules).length).toBeGreaterThanOrEqual(6);
    for (const [name, block] of Object.entries(ex.modules)) {
      const target = get(resolve(EXAMPLE, block.source as string));
      expect(target, `${name}: source ${String(block.source)}`).toBeDefined();
      const given = Object.keys(block).filter((k) => !META.has(k));
      for (const k of given) expect(Object.keys(target.variables), `module ${name}: ${k}`).toContain(k);
      const required = Object.entries(target.variables).filter(([, v]) => !('default' in v)).map(([k]) => k);
      for (const k of required) expect(given, `module ${name} must set ${k}`).toContain(k);
    }
  });

  it('is wired as terraform/README.md says (its module table lists exactly the module blocks)', () => {
    const readme = readFileSync(join(TF_ROOT, 'README.md'), 'utf8');
    const rows = [...readme.matchAll(/^\|\s*`(\w+)`\s*\|\s*`modules\/([\w-]+)`\s*\|/gm)].map((m) => `${m[1]} -> ${m[2]}`).sort();
    const actual = Object.entries(get(EXAMPLE).modules).map(([name, b]) => `${name} -> ${basename(String(b.source))}`).sort();
    expect(rows).toEqual(actual);
    for (const d of MODULE_DIRS) expect(readme, basename(d)).toContain(`modules/${basename(d)}`);
    expect(readme).toContain('cannot be applied from here');
  });

  it('puts the control plane and a traffic generator in East US, origins in West Europe and Southeast Asia, peered in a full mesh', () => {
    const ex = get(EXAMPLE);
    const regions = ex.locals.regions as Record<string, { location: string; cidr: string }>;
    expect(Object.values(regions).map((r) => r.location).sort()).toEqual(['eastus', 'southeastasia', 'westeurope']);
    const origins = ex.locals.origins as Record<string, { region: string }>;
    expect(Object.values(origins).map((o) => regions[o.region]!.location).sort()).toEqual(['southeastasia', 'westeurope']);
    const generators = ex.locals.traffic_generators as Record<string, { region: string }>;
    expect(Object.values(generators).map((o) => regions[o.region]!.location)).toContain('eastus');
    expect(ex.files['network.tf']).toContain('setproduct(keys(local.regions), keys(local.regions))');
    expect(ex.resources.azurerm_virtual_network_peering?.mesh?.for_each).toBe('${local.peerings}');
  });

  it('opens only each role\'s ports: rules come from the role modules, monitoring ports only to the control plane, and the VM module denies the rest of the VNet', () => {
    const ex = get(EXAMPLE);
    expect(String(ex.locals.monitoring)).toContain('local.cp_ip');
    const vm = get(join(TF_ROOT, 'modules/azure-linux-vm'));
    const nsg = vm.resources.azurerm_network_security_group?.this as { security_rule: Json[] };
    const deny = nsg.security_rule.find((r) => r.access === 'Deny');
    expect(deny).toMatchObject({ direction: 'Inbound', source_address_prefix: 'VirtualNetwork', destination_port_range: '*' });
    for (const m of ['origin_vm', 'edge_vm', 'control_plane_vm']) expect(strings(ex.modules[m]!.inbound_rules).join('\n'), m).toMatch(/module\.\w+_role(\[[^\]]*\])?\.inbound_ports/);
    // No rule open to the whole Internet.
    expect(Object.values(ex.files).join('\n')).not.toMatch(/0\.0\.0\.0\/0|"\*"\s*\]|"Internet"/);
  });

  it('outputs the addresses and the dig / curl commands to try', () => {
    const ex = get(EXAMPLE);
    const tryThese = strings(ex.outputs.try_these?.value).join('\n');
    expect(tryThese).toContain('dig @');
    expect(tryThese).toContain('curl -s -H');
    expect(tryThese).toContain('/api/v1/latency');
    for (const o of ['control_plane_public_ip', 'control_plane_private_ip', 'origin_ips', 'traffic_generator_public_ips']) expect(Object.keys(ex.outputs)).toContain(o);
  });

  it('terraform.tfvars.example sets declared variables only, and no token (those go through TF_VAR_)', async () => {
    const ex = get(EXAMPLE);
    const tfvars = (await parse('terraform.tfvars.example', readFileSync(join(EXAMPLE, 'terraform.tfvars.example'), 'utf8'))) as Json;
    for (const k of Object.keys(tfvars)) expect(Object.keys(ex.variables), k).toContain(k);
    for (const [k, v] of Object.entries(ex.variables)) if (v.sensitive) expect(Object.keys(tfvars)).not.toContain(k);
    const required = Object.entries(ex.variables).filter(([, v]) => !('default' in v) && !v.sensitive).map(([k]) => k);
    for (const k of required) expect(Object.keys(tfvars), `${k} (required)`).toContain(k);
  });

  it('the example README has the cost estimate and the teardown', () => {
    const readme = readFileSync(join(EXAMPLE, 'README.md'), 'utf8');
    expect(readme).toMatch(/cost/i);
    expect(readme).toContain('terraform destroy');
    expect(readme).toContain('az group delete');
  });
});
