// openapi/openapi.json is valid OpenAPI 3.1 (by a maintained validator) and is exactly what the server
// generates from its route schemas. Regenerate with `npm run openapi`.
import { readFileSync } from 'node:fs';
import { Validator } from '@seriousme/openapi-schema-validator';
import { describe, expect, it } from 'vitest';
import { generateOpenApi, OPENAPI_FILE } from '../openapi/generate.ts';

describe('openapi/openapi.json', () => {
  const checkedIn = readFileSync(OPENAPI_FILE, 'utf8');

  it('is in sync with the routes (run `npm run openapi` after changing a schema)', async () => {
    expect(checkedIn).toBe(await generateOpenApi());
  });

  it('is valid OpenAPI 3.1', async () => {
    const validator = new Validator();
    const result = await validator.validate(JSON.parse(checkedIn));
    expect(validator.version).toBe('3.1');
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it('is served at /openapi.json and browsable at /docs (Swagger UI)', async () => {
    const { tokenSets } = await import('../api/auth.ts');
    const { buildServer } = await import('../api/server.ts');
    const { SqliteStore } = await import('../api/store/sqlite.ts');
    const store = new SqliteStore(':memory:');
    const app = await buildServer({ store, tokens: tokenSets({ admin_tokens: [], read_tokens: [] }), docs: true });
    try {
      const spec = await app.inject({ method: 'GET', url: '/openapi.json' });
      expect(spec.statusCode).toBe(200);
      expect(`${JSON.stringify(spec.json(), null, 2)}\n`).toBe(checkedIn);
      const ui = await app.inject({ method: 'GET', url: '/docs/' });
      expect(ui.statusCode).toBe(200);
      expect(ui.body).toContain('swagger-ui');
    } finally {
      await app.close();
      await store.close();
    }
  });

  it('documents every resource and view route', () => {
    const paths = Object.keys(JSON.parse(checkedIn).paths);
    for (const p of ['/api/v1/load-balancers', '/api/v1/load-balancers/{lbId}/origins/{id}', '/api/v1/edges/{id}/config', '/api/v1/dns/view', '/api/v1/latency', '/api/v1/decisions', '/api/v1/load-balancers/{id}/weights']) {
      expect(paths).toContain(p);
    }
  });
});
