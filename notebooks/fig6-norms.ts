/**
 * Figure 6: norm-based analysis (Kobayashi et al. 2020) of teacher vs students (the reference's
 * Exp3_Attention_Output_Analysis.ipynb, norm part).
 *
 *   npx tsx notebooks/fig6-norms.ts --task rte --run-dir output/tiny/rte [--seed 42] [--examples N] [--out DIR]
 *
 * Over dev examples containing [SEP] (default: all dev examples, as the notebook): per layer and token class
 * ([CLS], [SEP], punctuation "," ".", other, all), |teacher - student| of the mean attention weight alpha
 * ("[CLASS] - Avg. alpha"), of ||f(x)|| and of ||sum_h alpha f(x)||, for the map and the output student (W_O
 * latent, as the reference); plus the per-head heatmaps at the first [SEP] (PROB, ||f||, ||alpha f||).
 * Writes <run-dir>/analysis/fig6-norms/{norm-curves,norm-heatmaps}.{svg,png} and results.json.
 */
import { runFigure } from './common.js';

await runFigure({
  name: 'fig6-norms',
  experiment: 'norms',
  plots: ['norm-curves', 'norm-heatmaps'],
  usage: 'npx tsx notebooks/fig6-norms.ts --task <t> --run-dir <output/bert/task> [--seed 42] [--examples N]',
});
