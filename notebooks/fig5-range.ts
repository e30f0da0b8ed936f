/**
 * Figure 5: attention-output dynamic range (the reference's Exp3_Attention_Output_Analysis.ipynb, min-max part).
 *
 *   npx tsx notebooks/fig5-range.ts --task rte --run-dir output/tiny/rte [--seed 42] [--out DIR]
 *
 * One random dev example (seeded): for every layer and token, the min and max over the hidden dimension of the
 * post-LayerNorm attention sublayer output, for the FP teacher (grey dashed), the map student and the output
 * student; one panel per layer. (The notebook's legend swaps the map/output min and max labels; not here.)
 * Writes <run-dir>/analysis/fig5-range/{range-min-max.svg,png, results.json}.
 */
import { runFigure } from './common.js';

await runFigure({
  name: 'fig5-range',
  experiment: 'range',
  defaultExamples: 1,
  plots: ['range-min-max'],
  usage: 'npx tsx notebooks/fig5-range.ts --task <t> --run-dir <output/bert/task> [--seed 42]',
});
