/**
 * Vega-lite specs of the analysis figures (the paper's Figures 3-6 and the per-head heatmaps), built from the results
 * JSON of src/analysis/run.ts by each registered analysis. Pure data -> spec functions; rendering is src/report's job.
 */
import { ANALYSES, type AnalysisResults } from './registry.js';
import type { Spec } from './types.js';

/** Every figure of a results object, keyed by output file base name (null specs dropped). */
export function allSpecs(r: AnalysisResults): Record<string, Spec> {
  const out: Record<string, Spec> = {};
  for (const a of ANALYSES) {
    const res = (r as unknown as Record<string, unknown>)[a.name];
    if (res === undefined) continue;
    for (const [name, spec] of Object.entries(a.specs(res, r.meta))) if (spec !== null) out[name] = spec;
  }
  return out;
}
