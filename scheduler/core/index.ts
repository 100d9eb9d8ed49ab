// The scheduler's pure decision core. Problem in, decision out: no I/O, no clock, no randomness.
export { decide, DEFAULT_GAIN } from './decide.ts';
export { ProblemSchema, type ProblemInput } from './schema.ts';
export { DEFAULT_RTT_MODEL, estimateRttMs, greatCircleKm } from './geo.ts';
export { classifyOrigins, type OriginRole } from './origins.ts';
export type {
  AdminState,
  GeoPoint,
  OriginOutcome,
  OriginState,
  OverrideOutcome,
  Policy,
  ProblemOverrides,
  RttModel,
  SchedulingDecision,
  SchedulingProblem,
  SourceConnections,
  SourceState,
  StepInfo,
  SolverInfo,
  Weights,
} from './types.ts';
