// Feasibility of a capacity plan: can every source's demand be placed on its allowed origins without
// exceeding the origins' capacities? That is a max-flow on (allowed-set groups → origins); sources with
// the same allowed set are one node, so the graph stays small even at 100k sources. Dinic's algorithm.
export interface FeasibilityGroups {
  /** Demand per group. */
  demand: number[];
  /** Allowed column indices per group. */
  allowed: number[][];
}

/** Groups rows by their set of allowed columns (finite cost). Rows with zero demand are left out. */
export function groupByAllowedSet(cost: Float64Array, demand: Float64Array, rows: number, cols: number): FeasibilityGroups {
  const index = new Map<number | string, number>();
  const out: FeasibilityGroups = { demand: [], allowed: [] };
  for (let i = 0; i < rows; i++) {
    const d = demand[i]!;
    if (!(d > 0)) continue;
    // The allowed set as a number (exact up to 52 columns), else as text.
    let key: number | string = 0;
    if (cols <= 52) {
      let bit = 1;
      for (let j = 0; j < cols; j++, bit *= 2) if (cost[i * cols + j] !== Infinity) key += bit;
    } else {
      const parts: number[] = [];
      for (let j = 0; j < cols; j++) if (cost[i * cols + j] !== Infinity) parts.push(j);
      key = parts.join(',');
    }
    let g = index.get(key);
    if (g === undefined) {
      g = out.demand.length;
      index.set(key, g);
      out.demand.push(0);
      const allowed: number[] = [];
      for (let j = 0; j < cols; j++) if (cost[i * cols + j] !== Infinity) allowed.push(j);
      out.allowed.push(allowed);
    }
    out.demand[g]! += d;
  }
  return out;
}

/** Maximum demand placeable with the given column capacities (may be +Infinity). */
export function maxPlaceable(groups: FeasibilityGroups, capacity: ArrayLike<number>): number {
  const G = groups.demand.length;
  const K = capacity.length;
  const S = G + K;
  const T = S + 1;
  const N = T + 1;
  const head = new Int32Array(N).fill(-1);
  const to: number[] = [];
  const cap: number[] = [];
  const next: number[] = [];
  const addEdge = (u: number, v: number, c: number): void => {
    to.push(v), cap.push(c), next.push(head[u]!), (head[u] = to.length - 1);
    to.push(u), cap.push(0), next.push(head[v]!), (head[v] = to.length - 1);
  };
  for (let g = 0; g < G; g++) {
    addEdge(S, g, groups.demand[g]!);
    for (const j of groups.allowed[g]!) addEdge(g, G + j, Infinity);
  }
  for (let j = 0; j < K; j++) addEdge(G + j, T, capacity[j]!);
  const total = groups.demand.reduce((a, b) => a + b, 0);
  const eps = Math.max(total, 1) * 1e-15;
  const level = new Int32Array(N);
  const it = new Int32Array(N);
  let flow = 0;
  const bfs = (): boolean => {
    level.fill(-1);
    level[S] = 0;
    const queue = [S];
    for (let q = 0; q < queue.length; q++) {
      const u = queue[q]!;
      for (let e = head[u]!; e >= 0; e = next[e]!) {
        if (cap[e]! > eps && level[to[e]!]! < 0) {
          level[to[e]!] = level[u]! + 1;
          queue.push(to[e]!);
        }
      }
    }
    return level[T]! >= 0;
  };
  const dfs = (u: number, f: number): number => {
    if (u === T) return f;
    for (; it[u]! >= 0; it[u] = next[it[u]!]!) {
      const e = it[u]!;
      const v = to[e]!;
      if (cap[e]! > eps && level[v] === level[u]! + 1) {
        const got = dfs(v, Math.min(f, cap[e]!));
        if (got > eps) {
          cap[e]! -= got;
          cap[e ^ 1]! += got;
          return got;
        }
      }
    }
    return 0;
  };
  while (bfs()) {
    it.set(head);
    for (;;) {
      const f = dfs(S, Infinity);
      if (!(f > eps)) break;
      flow += f;
    }
  }
  return flow;
}
