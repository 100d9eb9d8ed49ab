// The simulator: a world model driving the same decision core as the live loop (reused by `sluice demo`).
export { Scenario, type ScenarioRun, type RunSettings } from './scenario.ts';
export { World, type Measurement } from './world.ts';
export { simulate, runsOf, type CycleRecord, type OriginSample, type RunResult } from './run.ts';
export { toCsv, CSV_HEADER } from './csv.ts';
export { toSvg, type ChartOptions } from './svg.ts';
export { summarise, type OriginSummary } from './summary.ts';
