// resource-table.ts for PostgreSQL: the same versioned resources (spec as JSON text, a name unique in
// its scope, the caller's revision checked inside the transaction) on an async client. The update
// itself says `WHERE revision = $current`, so two replicas holding the same ETag cannot both win.
import type pg from 'pg';
import { decodeCursor, encodeCursor, newId, resourceErrors, type Resource, type ResourceRow, type TableShape } from './resource-table.ts';
import { StoreError, type Page, type PageRequest } from './store.ts';

type Q = Pick<pg.ClientBase, 'query'>;

export class PgResourceTable<Spec extends { name: string }, Out extends Resource> {
  private readonly errors: ReturnType<typeof resourceErrors>;

  constructor(
    private readonly shape: TableShape,
    private readonly toResource: (row: ResourceRow, spec: Spec) => Out,
  ) {
    this.errors = resourceErrors(shape.noun);
  }

  private select(where: string): string {
    const parent = this.shape.parentColumn ? `, ${this.shape.parentColumn} AS parent` : '';
    return `SELECT seq, id, spec, revision, created_at, updated_at${parent} FROM ${this.shape.table} ${where}`;
  }

  private materialise(row: ResourceRow): Out {
    return this.toResource(row, JSON.parse(row.spec) as Spec);
  }

  async get(q: Q, id: string, parent?: string): Promise<Out> {
    const scoped = this.shape.parentColumn !== undefined;
    const { rows } = await q.query<ResourceRow>(this.select(`WHERE id = $1${scoped ? ` AND ${this.shape.parentColumn} = $2` : ''}`), scoped ? [id, parent] : [id]);
    if (!rows[0]) throw this.errors.notFound(id);
    return this.materialise(rows[0]);
  }

  async list(q: Q, page: PageRequest, parent?: string): Promise<Page<Out>> {
    const after = decodeCursor(page.cursor);
    const scoped = this.shape.parentColumn !== undefined;
    const { rows } = await q.query<ResourceRow & { seq: string }>(
      this.select(`WHERE seq > $1${scoped ? ` AND ${this.shape.parentColumn} = $3` : ''} ORDER BY seq LIMIT $2`),
      scoped ? [after, page.limit + 1, parent] : [after, page.limit + 1],
    );
    const more = rows.length > page.limit;
    const items = rows.slice(0, page.limit);
    return { items: items.map((r) => this.materialise(r)), next_cursor: more ? encodeCursor(Number(items[items.length - 1]!.seq)) : null };
  }

  async all(q: Q, parent?: string): Promise<Out[]> {
    const byParent = this.shape.parentColumn !== undefined && parent !== undefined;
    const { rows } = await q.query<ResourceRow>(this.select(byParent ? `WHERE ${this.shape.parentColumn} = $1 ORDER BY seq` : 'ORDER BY seq'), byParent ? [parent] : []);
    return rows.map((r) => this.materialise(r));
  }

  async create(q: Q, spec: Spec, parent?: string): Promise<Out> {
    const now = new Date().toISOString();
    const id = newId(this.shape.idPrefix);
    const cols = ['id', ...(this.shape.parentColumn ? [this.shape.parentColumn] : []), 'name', 'spec', 'revision', 'created_at', 'updated_at'];
    const values = [id, ...(this.shape.parentColumn ? [parent] : []), spec.name, JSON.stringify(spec), 1, now, now];
    try {
      await q.query(`INSERT INTO ${this.shape.table} (${cols.join(', ')}) VALUES (${values.map((_, i) => `$${i + 1}`).join(', ')})`, values);
    } catch (err) {
      throw this.translate(err, spec.name);
    }
    return this.get(q, id, parent);
  }

  /** The row a conditional write applies to: gone with a revision asked for -> stale, not not-found (as in SQLite). */
  private async current(q: Q, id: string, ifRevision: number | undefined, parent?: string): Promise<Out> {
    try {
      return await this.get(q, id, parent);
    } catch (err) {
      if (ifRevision !== undefined && err instanceof StoreError && err.kind === 'not_found') throw this.errors.gone(id, ifRevision);
      throw err;
    }
  }

  async replace(q: Q, id: string, spec: Spec, ifRevision: number | undefined, parent?: string): Promise<Out> {
    const current = await this.current(q, id, ifRevision, parent);
    if (ifRevision !== undefined && current.revision !== ifRevision) throw this.errors.stale(id, current.revision, ifRevision);
    let count: number;
    try {
      count =
        (await q.query(`UPDATE ${this.shape.table} SET name = $1, spec = $2, revision = revision + 1, updated_at = $3 WHERE id = $4 AND revision = $5`, [spec.name, JSON.stringify(spec), new Date().toISOString(), id, current.revision]))
          .rowCount ?? 0;
    } catch (err) {
      throw this.translate(err, spec.name);
    }
    if (count !== 1) throw this.errors.stale(id, undefined, ifRevision);
    return this.get(q, id, parent);
  }

  async delete(q: Q, id: string, ifRevision: number | undefined, parent?: string): Promise<void> {
    const current = await this.current(q, id, ifRevision, parent);
    if (ifRevision !== undefined && current.revision !== ifRevision) throw this.errors.stale(id, current.revision, ifRevision);
    const count = (await q.query(`DELETE FROM ${this.shape.table} WHERE id = $1 AND revision = $2`, [id, current.revision])).rowCount ?? 0;
    if (count !== 1) throw this.errors.stale(id, undefined, ifRevision);
  }

  private translate(err: unknown, name: string): unknown {
    const code = (err as { code?: string }).code;
    if (code === '23505') return this.errors.duplicate(name);
    if (code === '23503') return this.errors.parentMissing();
    return err;
  }
}
