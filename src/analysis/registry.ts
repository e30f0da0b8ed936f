/**
 * The analyses `npm run analyze` knows, in the order their results are reported. Each entry is a module of
 * src/analysis/analyses/ that brings its settings (config-file section and flags), its computation, its figures,
 * tables and captions. Adding an analysis: its module, an entry in LIST, its settings and result types below
 * (docs/reports.md).
 */
import { distance, type DistanceResult, type DistanceSettings } from './analyses/distance.js';
import { hessian } from './analyses/hessian.js';
import { norms } from './analyses/norms.js';
import type { NormsResult, NormsSettings } from './analyses/norms-accumulate.js';
import { range, type RangeResult, type RangeSettings } from './analyses/range.js';
import type { HessianResults, HessianSettings } from './run-hessian.js';
import type { AnalysisMeta, AnyAnalysis } from './types.js';

const LIST = [distance, hessian, range, norms] as const;
export const ANALYSES: readonly AnyAnalysis[] = LIST;

export type Experiment = (typeof LIST)[number]['name'];
export const EXPERIMENTS: readonly Experiment[] = LIST.map((a) => a.name);

/** Each analysis's settings, under its name. */
export interface AnalysisSettings {
  distance: DistanceSettings;
  hessian: HessianSettings;
  range: RangeSettings;
  norms: NormsSettings;
}

export interface AnalysisResults {
  meta: AnalysisMeta;
  distance?: DistanceResult;
  range?: RangeResult;
  norms?: NormsResult;
  hessian?: HessianResults;
}
