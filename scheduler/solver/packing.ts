// Compact, transferable forms of a problem and a decision for the worker thread. Structured-cloning a
// 100k-source problem (2M RTT properties) and its decision (weights, plan and diff: ~350k objects)
// costs ~1 s of the *caller's* event loop each way on this machine; typed arrays are transferred
// without copying. The forms are the decision core's own flat forms (core/input.ts, core/output.ts), so
// the worker runs the core on them directly — it never rebuilds the problem's source objects — and
// the decision's records are built once, on the caller's side.
import { runPaced, type PacedMeter } from '../../lib/steps.ts';
import { denseBuffers, densifySteps, type DenseProblem } from '../core/input.ts';
import { decisionBuffers, toDecisionSteps, type DenseDecision } from '../core/output.ts';
import type { SchedulingDecision, SchedulingProblem } from '../core/types.ts';

export type PackedProblem = DenseProblem;
/** The decision without the source ids: the caller sent them and still has them (100k strings). */
export type PackedDecision = Omit<DenseDecision, 'sourceIds'>;

/** Packed in slices that give the caller's event loop a turn (~0.6 s in one piece at 1M subnets). */
export async function packProblem(p: SchedulingProblem, meter?: PacedMeter): Promise<{ packed: PackedProblem; transfer: ArrayBuffer[] }> {
  const packed = await runPaced(densifySteps(p), 20, meter);
  return { packed, transfer: denseBuffers(packed) };
}

export function packDecision(d: DenseDecision): { packed: PackedDecision; transfer: ArrayBuffer[] } {
  const { sourceIds: _sent, ...packed } = d;
  return { packed, transfer: decisionBuffers(d) };
}

/** `sourceIds`: those of the packed problem the decision answers. Paced: 130k sources' records at 1M subnets. */
export function unpackDecision(pd: PackedDecision, sourceIds: string[], meter?: PacedMeter): Promise<SchedulingDecision> {
  return runPaced(toDecisionSteps({ ...pd, sourceIds }), 20, meter);
}
