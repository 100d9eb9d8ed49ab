// Checks a response of the control plane against the checked-in openapi/openapi.json with ajv, the
// way an OpenAPI-validating proxy would: the operation exists (or the answer is a problem saying why
// not), the status is declared for it, the media type is one it declares, and the body validates
// against the declared schema. `test/helpers/control-plane.ts` runs every response of a control plane
// a test started through `checkResponse`, so the whole API suite is also the contract test.
import { readFileSync } from 'node:fs';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { OPENAPI_FILE } from '../../openapi/generate.ts';

// ajv-formats is CommonJS with a default export; under ESM interop it may arrive wrapped once more.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv2020) => void;

interface Operation {
  security?: unknown[];
  responses: Record<string, { description?: string; content?: Record<string, { schema?: unknown }> }>;
}
type PathItem = Record<string, Operation>;
interface Spec {
  paths: Record<string, PathItem>;
  security?: unknown[];
}

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

let loaded: { spec: Spec; ajv: Ajv2020; routes: { template: string; re: RegExp }[]; validators: Map<string, ValidateFunction> } | undefined;

function load() {
  if (loaded) return loaded;
  const spec = JSON.parse(readFileSync(OPENAPI_FILE, 'utf8')) as Spec;
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema(spec as object, 'openapi.json');
  const routes = Object.keys(spec.paths).map((template) => ({
    template,
    // A parameter may be empty, as in the router: /api/v1/edges/ is the item route with id "".
    re: new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]*')}$`),
  }));
  loaded = { spec, ajv, routes, validators: new Map() };
  return loaded;
}

function pointer(...parts: string[]): string {
  return `#/${parts.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/')}`;
}

function validator(ptr: string): ValidateFunction {
  const l = load();
  let v = l.validators.get(ptr);
  if (!v) {
    v = l.ajv.compile({ $ref: `openapi.json${ptr}` });
    l.validators.set(ptr, v);
  }
  return v;
}

export interface ObservedResponse {
  method: string;
  /** Path and query as sent (the query is ignored for matching). */
  url: string;
  status: number;
  headers: Headers;
  text: string;
}

/** The documented operation for a request, if any. */
export function findOperation(method: string, path: string): { template: string; op: Operation | undefined; methods: string[] } | undefined {
  const l = load();
  const route = l.routes.find((r) => r.re.test(path));
  if (!route) return undefined;
  const item = l.spec.paths[route.template]!;
  const methods = Object.keys(item).filter((m) => METHODS.includes(m));
  const m = method.toLowerCase() === 'head' ? 'get' : method.toLowerCase();
  return { template: route.template, op: item[m], methods };
}

function mediaType(headers: Headers): string {
  return (headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
}

function validateBody(ptr: string, text: string, what: string, out: string[]): void {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    out.push(`${what}: body is not JSON: ${text.slice(0, 120)}`);
    return;
  }
  const v = validator(ptr);
  if (!v(body)) out.push(`${what}: body does not match ${ptr}: ${JSON.stringify(v.errors?.slice(0, 3))}`);
}

/** The ways this response breaks the contract; empty when it keeps it. */
export function contractViolations(r: ObservedResponse): string[] {
  const out: string[] = [];
  const path = r.url.split('?')[0]!;
  const what = `${r.method} ${r.url.slice(0, 200)} -> ${r.status}`;
  const found = findOperation(r.method, path);
  const isProblem = (): boolean => {
    if (mediaType(r.headers) !== 'application/problem+json') {
      out.push(`${what}: an error must be application/problem+json, got ${r.headers.get('content-type')}`);
      return false;
    }
    // A HEAD answer carries the headers of the GET answer and no body.
    if (r.method.toUpperCase() !== 'HEAD') validateBody(pointer('components', 'schemas', 'Problem'), r.text, what, out);
    return true;
  };
  if (!found?.op) {
    // Not a documented operation: the only acceptable answers are problems saying so.
    if (found && r.status === 405) {
      const allow = (r.headers.get('allow') ?? '').split(',').map((m) => m.trim().toLowerCase()).filter(Boolean);
      for (const m of found.methods) if (!allow.includes(m)) out.push(`${what}: Allow "${r.headers.get('allow')}" lacks ${m.toUpperCase()}`);
    } else if (![400, 404, 405, 408, 414, 431].includes(r.status)) {
      out.push(`${what}: no documented operation ${r.method} ${path}, yet the answer is not a 4xx problem`);
    }
    if (r.status < 400) return out;
    isProblem();
    return out;
  }
  const opPtr = ['paths', found.template, r.method.toLowerCase() === 'head' ? 'get' : r.method.toLowerCase()];
  const declared = found.op.responses[String(r.status)] ?? found.op.responses[`${String(r.status)[0]}XX`] ?? found.op.responses.default;
  if (!declared) {
    out.push(`${what}: status ${r.status} is not declared for ${r.method} ${found.template} (declared: ${Object.keys(found.op.responses).join(', ')})`);
    if (r.status >= 400) isProblem();
    return out;
  }
  const key = found.op.responses[String(r.status)] ? String(r.status) : found.op.responses[`${String(r.status)[0]}XX`] ? `${String(r.status)[0]}XX` : 'default';
  if (r.status === 401 && Array.isArray(found.op.security) && found.op.security.length === 0) out.push(`${what}: answered 401 but the operation is declared without security`);
  const content = declared.content;
  if (r.status >= 400) {
    isProblem();
    if (!content?.['application/problem+json']) out.push(`${what}: declared without application/problem+json`);
    return out;
  }
  if (!content || Object.keys(content).length === 0) {
    if (r.text !== '') out.push(`${what}: declared without a body, but one was sent: ${r.text.slice(0, 80)}`);
    return out;
  }
  if (r.method.toUpperCase() === 'HEAD') return out;
  const type = mediaType(r.headers);
  if (!content[type]) {
    out.push(`${what}: media type ${type || '(none)'} is not declared (declared: ${Object.keys(content).join(', ')})`);
    return out;
  }
  if (content[type]!.schema && /json$/.test(type)) validateBody(pointer(...opPtr, 'responses', key, 'content', type, 'schema'), r.text, what, out);
  return out;
}

/** Control planes started by the test helpers: only their responses are checked. */
const watched = new Set<string>();

export function watchControlPlane(baseUrl: string): () => void {
  const base = baseUrl.replace(/\/+$/, '');
  watched.add(base);
  return () => watched.delete(base);
}

/** Throws when `url` is a watched control plane's and the response breaks the contract. */
export function checkResponse(url: string, r: Omit<ObservedResponse, 'url'>): void {
  const base = [...watched].find((b) => url === b || url.startsWith(`${b}/`) || url.startsWith(`${b}?`));
  if (!base) return;
  const problems = contractViolations({ ...r, url: url.slice(base.length) || '/' });
  if (problems.length > 0) throw new Error(`OpenAPI contract violated:\n  ${problems.join('\n  ')}`);
}
