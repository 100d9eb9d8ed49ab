// One table of versioned resources (load balancers, origins, edges): the spec is stored as JSON, the
// name is unique within its scope, and every update checks the caller's revision inside the
// transaction, so two writers holding the same ETag cannot both win. A write that names a revision
// (If-Match) of a row that no longer exists fails its precondition (412), like any stale write: the
// loser of two DELETEs with the same ETag is told its ETag is stale, not that there was nothing.
import { randomBytes } from 'node:crypto';
import type { Database } from 'better-sqlite3';
import { StoreError, type Page, type PageRequest } from './store.ts';

export interface ResourceRow {
  id: string;
  spec: string;
  revision: number;
  created_at: string;
  updated_at: string;
  parent?: string;
}

export interface Resource {
  id: string;
  revision: number;
  created_at: string;
  updated_at: string;
}

export interface TableShape {
  table: string;
  idPrefix: string;
  /** Human name for errors: "load balancer". */
  noun: string;
  /** Column naming the parent resource, when the name is unique only within it. */
  parentColumn?: string;
}

export function newId(prefix: string): string {
  return `${prefix}_${randomBytes(8).toString('hex')}`;
}

export function encodeCursor(seq: number): string {
  return Buffer.from(`s${seq}`).toString('base64url');
}

export function decodeCursor(cursor: string | undefined): number {
  if (!cursor) return 0;
  const text = Buffer.from(cursor, 'base64url').toString();
  const seq = /^s(\d+)$/.exec(text);
  if (!seq) throw new StoreError('invalid', 'cursor is not one this API issued', 'cursor');
  return Number(seq[1]);
}

/** The errors a resource table raises, worded once for both stores. */
export function resourceErrors(noun: string) {
  return {
    notFound: (id: string) => new StoreError('not_found', `no ${noun} with id ${id}`, 'id'),
    duplicate: (name: string) => new StoreError('conflict', `a ${noun} named "${name}" already exists`, 'name'),
    parentMissing: () => new StoreError('not_found', `the parent of this ${noun} does not exist`, 'id'),
    /** A conditional write (If-Match) to a row that is gone: its precondition fails, like any stale write. */
    gone: (id: string, ifRevision: number) => new StoreError('precondition_failed', `${noun} ${id} no longer exists (If-Match gave revision ${ifRevision}); read it again`, 'If-Match'),
    stale(id: string, current: number | undefined, given: number | undefined): StoreError {
      const now = current !== undefined ? ` (current revision ${current}, If-Match gave ${given})` : '';
      return new StoreError('precondition_failed', `${noun} ${id} was changed by someone else${now}; read it again`, 'If-Match');
    },
  };
}

export class ResourceTable<Spec extends { name: string }, Out extends Resource> {
  constructor(
    private readonly db: Database,
    private readonly shape: TableShape,
    private readonly toResource: (row: ResourceRow, spec: Spec) => Out,
    private readonly bump: () => void,
  ) {}

  private get parentCol(): string | undefined {
    return this.shape.parentColumn;
  }

  private select(where: string): string {
    const parent = this.parentCol ? `, ${this.parentCol} AS parent` : '';
    return `SELECT seq, id, spec, revision, created_at, updated_at${parent} FROM ${this.shape.table} ${where}`;
  }

  private materialise(row: ResourceRow): Out {
    return this.toResource(row, JSON.parse(row.spec) as Spec);
  }

  private get errors() {
    return resourceErrors(this.shape.noun);
  }

  private scopeClause(parent: string | undefined): { sql: string; args: unknown[] } {
    return this.parentCol ? { sql: ` AND ${this.parentCol} = ?`, args: [parent] } : { sql: '', args: [] };
  }

  get(id: string, parent?: string): Out {
    const scope = this.scopeClause(parent);
    const row = this.db.prepare(this.select(`WHERE id = ?${scope.sql}`)).get(id, ...scope.args) as ResourceRow | undefined;
    if (!row) throw this.errors.notFound(id);
    return this.materialise(row);
  }

  list(page: PageRequest, parent?: string): Page<Out> {
    const after = decodeCursor(page.cursor);
    const scope = this.scopeClause(parent);
    const rows = this.db
      .prepare(this.select(`WHERE seq > ?${scope.sql} ORDER BY seq LIMIT ?`))
      .all(after, ...scope.args, page.limit + 1) as (ResourceRow & { seq: number })[];
    const more = rows.length > page.limit;
    const items = rows.slice(0, page.limit);
    return { items: items.map((r) => this.materialise(r)), next_cursor: more ? encodeCursor(items[items.length - 1]!.seq) : null };
  }

  /** Every row (in creation order), for views that need the whole set. */
  all(parent?: string): Out[] {
    const where = this.parentCol && parent !== undefined ? `WHERE ${this.parentCol} = ? ORDER BY seq` : 'ORDER BY seq';
    const args = this.parentCol && parent !== undefined ? [parent] : [];
    return (this.db.prepare(this.select(where)).all(...args) as ResourceRow[]).map((r) => this.materialise(r));
  }

  create(spec: Spec, parent?: string): Out {
    const now = new Date().toISOString();
    const id = newId(this.shape.idPrefix);
    const cols = this.parentCol ? `id, ${this.parentCol}, name, spec, revision, created_at, updated_at` : 'id, name, spec, revision, created_at, updated_at';
    const values = this.parentCol ? [id, parent, spec.name, JSON.stringify(spec), 1, now, now] : [id, spec.name, JSON.stringify(spec), 1, now, now];
    try {
      this.db.prepare(`INSERT INTO ${this.shape.table} (${cols}) VALUES (${values.map(() => '?').join(', ')})`).run(...values);
    } catch (err) {
      throw this.translate(err, spec.name);
    }
    this.bump();
    return this.get(id, parent);
  }

  /** The row a conditional write applies to: gone with a revision asked for -> stale, not not-found. */
  private current(id: string, ifRevision: number | undefined, parent?: string): Out {
    try {
      return this.get(id, parent);
    } catch (err) {
      if (ifRevision !== undefined && err instanceof StoreError && err.kind === 'not_found') throw this.errors.gone(id, ifRevision);
      throw err;
    }
  }

  replace(id: string, spec: Spec, ifRevision: number | undefined, parent?: string): Out {
    const current = this.current(id, ifRevision, parent);
    if (ifRevision !== undefined && current.revision !== ifRevision) throw this.stale(id, current.revision, ifRevision);
    let changes: number;
    try {
      changes = this.db
        .prepare(`UPDATE ${this.shape.table} SET name = ?, spec = ?, revision = revision + 1, updated_at = ? WHERE id = ? AND revision = ?`)
        .run(spec.name, JSON.stringify(spec), new Date().toISOString(), id, current.revision).changes;
    } catch (err) {
      throw this.translate(err, spec.name);
    }
    if (changes !== 1) throw this.stale(id, undefined, ifRevision);
    this.bump();
    return this.get(id, parent);
  }

  delete(id: string, ifRevision: number | undefined, parent?: string): void {
    const current = this.current(id, ifRevision, parent);
    if (ifRevision !== undefined && current.revision !== ifRevision) throw this.stale(id, current.revision, ifRevision);
    this.db.prepare(`DELETE FROM ${this.shape.table} WHERE id = ?`).run(id);
    this.bump();
  }

  private stale(id: string, current: number | undefined, given: number | undefined): StoreError {
    return this.errors.stale(id, current, given);
  }

  private translate(err: unknown, name: string): unknown {
    const code = (err as { code?: string }).code;
    if (code === 'SQLITE_CONSTRAINT_UNIQUE') return this.errors.duplicate(name);
    if (code === 'SQLITE_CONSTRAINT_FOREIGNKEY') return this.errors.parentMissing();
    return err;
  }
}
