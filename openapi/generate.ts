// Regenerates openapi/openapi.json from the routes' schemas: `npm run openapi`. A test fails when the
// checked-in file differs from what the server generates.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tokenSets } from '../api/auth.ts';
import { buildServer } from '../api/server.ts';
import { SqliteStore } from '../api/store/sqlite.ts';

export const OPENAPI_FILE = fileURLToPath(new URL('./openapi.json', import.meta.url));

export async function generateOpenApi(): Promise<string> {
  const store = new SqliteStore(':memory:');
  const app = await buildServer({ store, tokens: tokenSets({ admin_tokens: [], read_tokens: [] }), docs: true });
  try {
    return `${JSON.stringify(app.swagger(), null, 2)}\n`;
  } finally {
    await app.close();
    await store.close();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(OPENAPI_FILE, await generateOpenApi());
  process.stdout.write(`wrote ${OPENAPI_FILE}\n`);
}
