// Resident memory of a process and its descendants, read from /proc (Linux): what a test of a
// server's memory bound measures (a node:cluster primary and its workers together).
import { readFileSync } from 'node:fs';

export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** VmRSS of one process in bytes (0 when it is gone). */
export function rssBytes(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** VmRSS of a process tree in bytes. */
export function treeRssBytes(pid: number): number {
  return rssBytes(pid) + childPids(pid).reduce((sum, c) => sum + treeRssBytes(c), 0);
}
