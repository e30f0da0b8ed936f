/**
 * Figure 3: Hessian max-eigenvalue spectra (the reference's Exp2_Hessian_Analysis.ipynb + PyHessian).
 *
 *   npx tsx notebooks/fig3-hessian.ts --task rte --run-dir output/tiny/rte [--seed 42] [--examples 16]
 *                                     [--method power|lanczos] [--params REGEX] [--out DIR] [--backend wasm]
 *
 * For every sampled dev example (batch 1, sliced to its length; default 32 random ones, the notebook uses all:
 * --examples 277 for RTE) and
 * each of the teacher, the map student and the output student of a finished sweep: the top-3 eigenvalues (by
 * magnitude) of the Hessian of CE + 0.01 sum ||p|| (eval mode, all parameters, STE through the quantizers) by
 * PyHessian's power iteration (maxIter 100, tol 1e-3). The figure is the kernel density of all collected
 * eigenvalues, negative and positive panels. Expensive: each eigenvalue takes 10-100 exact Hessian-vector
 * products (about 0.2-0.3 s each for the tiny preset on wasm: ~25 s per spectrum); start with --examples 8.
 * Writes <run-dir>/analysis/fig3-hessian/{hessian-density.svg,png, results.json}.
 */
import { runFigure } from './common.js';

await runFigure({
  name: 'fig3-hessian',
  experiment: 'hessian',
  defaultExamples: 32,
  plots: ['hessian-density', 'hessian-layers'],
  usage:
    'npx tsx notebooks/fig3-hessian.ts --task <t> --run-dir <output/bert/task> [--seed 42] [--examples N] [--method ' +
    'power|lanczos] [--params REGEX]',
  extraFlags: { method: 'power|lanczos', params: 'regex' },
  tweak: (o, f) => {
    if (f.method === 'lanczos' || f.method === 'power') o.hessian.method = f.method;
    else if (f.method !== undefined) throw new Error(`--method must be power or lanczos, got ${f.method}`);
    if (f.params) o.hessian.params = f.params;
  },
});
