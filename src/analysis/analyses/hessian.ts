/**
 * Hessian spectra (docs/method.md §7b, Figure 3): the top eigenvalues of the Hessian loss per dev example (or over
 * all of them), for the teacher and/or the students; optionally the trace and the top eigenvalue per parameter group.
 * The spectra themselves are computed by src/analysis/run-hessian.ts.
 */
import type { PassAnalysis } from '../types.js';
import { mean } from '../plot-style.js';
import { hessianLossText, runHessian, type HessianResults, type HessianRow } from '../run-hessian.js';
import type { HessianSettings } from '../run-hessian.js';
import { hessianDensitySpec, hessianLayersSpec } from './hessian-plots.js';

export const hessian: PassAnalysis<'hessian', HessianSettings, HessianResults> = {
  name: 'hessian',
  kind: 'pass',
  settings: [
    {
      key: 'examples',
      flag: 'hessian-examples',
      field: { kind: 'int', min: 1 },
      help: 'how many of the examples get Hessian spectra (default 2: each spectrum is 30-300 exact Hv products)',
    },
    {
      key: 'roles',
      flag: 'hessian-models',
      field: { kind: 'list', values: ['teacher', 'student'] },
      help: 'teacher,student or either',
      default: ['teacher', 'student'],
    },
    {
      key: 'topN',
      flag: 'hessian-top',
      field: { kind: 'int', min: 1 },
      help: 'eigenvalues per example (as the notebook)',
      default: 3,
    },
    {
      key: 'maxIter',
      flag: 'hessian-iters',
      field: { kind: 'int', min: 1 },
      help: 'power-iteration maxIter',
      default: 100,
    },
    {
      key: 'tol',
      flag: 'hessian-tol',
      field: { kind: 'float', above: 0 },
      help: 'power-iteration relative tolerance',
      default: 1e-3,
    },
    {
      key: 'mode',
      flag: 'hessian-mode',
      field: { kind: 'enum', values: ['example', 'dataset'] },
      help: 'example (one spectrum per example) or dataset (Hv averaged over the examples)',
      default: 'example',
    },
    {
      key: 'method',
      flag: 'hessian-method',
      field: { kind: 'enum', values: ['lanczos', 'power'] },
      help:
        'lanczos (the top eigenvalues by magnitude in ~3x fewer products; where two have nearly equal magnitude, ' +
        'e.g. +17 and -17, power iteration converges slowly to a mix of them and lanczos separates them) or power ' +
        '(the reference: PyHessian power iteration with deflation)',
      default: 'lanczos',
    },
    {
      key: 'loss',
      flag: 'hessian-loss',
      field: { kind: 'enum', values: ['reference', 'data'] },
      help:
        'reference (CE/MSE + 0.01 sum ||p||, as the reference; tensors with ||p|| <= --hessian-norm-min left out of ' +
        'the norm term) or data (the task loss alone)',
      default: 'reference',
    },
    {
      key: 'normMin',
      flag: 'hessian-norm-min',
      field: { kind: 'float', min: 0 },
      help:
        'reference loss: tensors with ||p|| at most this are left out of the norm term, whose curvature 0.01/||p|| ' +
        'would swamp the spectrum (0 = only exact zeros, as the reference)',
      default: 1e-3,
    },
    {
      key: 'params',
      flag: 'hessian-params',
      field: { kind: 'string' },
      help: 'regex of the parameters to differentiate (default: all, as the reference)',
      default: null,
    },
    {
      key: 'layers',
      flag: 'hessian-layers',
      field: { kind: 'bool' },
      help: 'also the top eigenvalue of each parameter group (embeddings, layer.i, head)',
      default: false,
    },
    { key: 'trace', flag: 'hessian-trace', field: { kind: 'bool' }, help: 'also the Hutchinson trace', default: false },
  ],
  async run(ctx, s) {
    let kept = { ...((ctx.resume as Record<string, HessianRow[]> | undefined) ?? {}) };
    return runHessian(ctx.models, ctx.examples, s, ctx.makeBatch, ctx.onProgress, ctx.log, {
      done: ctx.resume as Record<string, HessianRow[]> | undefined,
      shouldStop: ctx.shouldStop,
      onPlan: ctx.onPlan,
      onRow: (id, rows) => {
        kept = { ...kept, [id]: rows };
        ctx.onPartial(kept);
      },
    });
  },
  specs: (r, meta) => ({
    'hessian-density': hessianDensitySpec(r, meta),
    'hessian-layers': hessianLayersSpec(r, meta),
  }),
  captions: {
    'hessian-density': [
      'Hessian eigenvalue spectra (Figure 3)',
      'Kernel density of the top eigenvalues (by magnitude) collected over examples, split into negative and ' +
        'positive; ticks at the bottom mark the eigenvalues themselves.',
    ],
    'hessian-layers': [
      'Hessian top eigenvalue per parameter group',
      'Power iteration restricted to one group of parameters at a time (the diagonal block of the Hessian).',
    ],
  },
  tables(r, label) {
    const st = r.settings;
    const rows = Object.entries(r.models).map(([id, h]) => {
      const all = h.perExample.flatMap((e) => e.eigenvalues);
      const conv = h.perExample.flatMap((e) => e.converged);
      return {
        model: label(id),
        spectra: h.perExample.length,
        'mean first eigenvalue': mean(h.perExample.map((e) => e.eigenvalues[0])),
        max: Math.max(...all),
        min: Math.min(...all),
        converged: `${conv.filter(Boolean).length}/${conv.length}`,
        'Hv products': mean(h.perExample.map((e) => e.iterations.reduce((a, b) => a + b, 0))),
        's per spectrum': mean(h.perExample.map((e) => e.seconds)),
        ...(st.trace ? { 'mean trace': mean(h.perExample.map((e) => e.trace ?? NaN)) } : {}),
      };
    });
    const how =
      st.method === 'power' ? 'power iteration with deflation (PyHessian)' : 'Lanczos with full reorthogonalisation';
    const l2 = Object.values(r.models).flatMap((h) =>
      h.perExample.flatMap((e) => e.l2Terms.filter((x): x is string => x !== null)),
    );
    const params = st.params ? `parameters matching \`${st.params}\`` : 'all parameters';
    const norms = (ex: Record<string, number>) =>
      Object.entries(ex)
        .map(([n, v]) => `${n} (${v.toExponential(2)})`)
        .join(', ');
    const notes = [
      `Top ${st.topN} eigenvalues by magnitude, ${how}, maxIter ${st.maxIter}, tol ${st.tol}, seed ${st.seed}, ` +
        `${st.mode} mode; loss: ${hessianLossText(st)} (\`--hessian-loss ${st.loss ?? 'reference'}\`), eval mode, ` +
        `${params}, STE through the quantizers.`,
      ...Object.entries(r.normExcluded ?? {})
        .filter(([, ex]) => Object.keys(ex).length)
        .map(
          ([id, ex]) =>
            `${label(id)}: left out of the norm term (||p|| <= ${st.normMin ?? 0}, its curvature l2 / ||p|| would ` +
            `swamp every eigenvalue): ${norms(ex)}.`,
        ),
      ...(l2.length
        ? [
            `${l2.length} of the eigenvalues equal l2 / ||p|| of one parameter tensor (its norm term alone, not data ` +
              `curvature): ${[...new Set(l2)].join(', ')}.`,
          ]
        : []),
      ...r.warnings.map((w) => `**Warning**: ${w}`),
    ];
    return [
      {
        kind: 'table',
        title: 'Hessian eigenvalues',
        table: rows,
        digits: { 'Hv products': 1, 's per spectrum': 1, '*': 4 },
        caption: notes.join(' '),
      },
    ];
  },
};
