/**
 * Figure 4: self-attention map distance per head (the reference's Exp1_Self_Attention_Map_Distance_Analysis.ipynb).
 *
 *   npx tsx notebooks/fig4-map-distance.ts --task rte --run-dir output/tiny/rte [--seed 42] [--examples 1] [--out DIR]
 *
 * Compares the pre-dropout attention maps of the map student ("KL-Div"), the output student ("MSE") and the
 * teacher's weights quantized without QAT ("Quantized") against the FP teacher, per layer and head (x axis =
 * layer x heads + head): ranking loss (Liu et al. 2021, summed over rows and key pairs) and cover length ratio
 * (top-5), plus the map loss's row KL. The notebook uses ONE random dev example (the default here); with
 * --examples N the lines are means over N examples with a +-1 std band.
 * Writes <run-dir>/analysis/fig4-map-distance/{distance-*.svg,png, results.json}.
 */
import { runFigure } from './common.js';

await runFigure({
  name: 'fig4-map-distance',
  experiment: 'distance',
  defaultExamples: 1,
  quantizedTeacher: true,
  plots: ['distance-ranking-loss', 'distance-cover-length', 'distance-row-kl'],
  usage: 'npx tsx notebooks/fig4-map-distance.ts --task <t> --run-dir <output/bert/task> [--seed 42] [--examples N]',
});
