/**
 * Norm-based analysis (docs/method.md §7d, Figure 6): per head, the attention a token receives, ||f(x)|| and
 * ||alpha f(x)|| at one token (the first [SEP] by default), and per layer and token class |teacher - student| of
 * alpha, ||f(x)|| and ||sum alpha f(x)||, averaged over the examples that contain the token.
 */
import type { ForwardAnalysis } from '../types.js';
import { startNorms, type NormsResult, type NormsSettings } from './norms-accumulate.js';
import { normCurvesSpec, normHeatmapSpec } from './norms-plots.js';

export const norms: ForwardAnalysis<'norms', NormsSettings, NormsResult> = {
  name: 'norms',
  kind: 'forward',
  settings: [
    {
      key: 'token',
      flag: 'norm-token',
      field: { kind: 'int', min: 0, words: ['sep'] },
      help: 'token of the per-head norm heatmaps: sep (first [SEP]) or an index',
      default: 'sep',
    },
    {
      key: 'wo',
      flag: 'norm-wo',
      field: { kind: 'enum', values: ['latent', 'quantized'] },
      help: "W_O of the students' norms: latent (reference) or quantized",
      default: 'latent',
    },
  ],
  reads: (m) => m.role !== 'quantized',
  start: startNorms,
  specs: (r, meta) => ({ 'norm-curves': normCurvesSpec(r, meta), 'norm-heatmaps': normHeatmapSpec(r, meta) }),
  captions: {
    'norm-curves': [
      'Norm-based analysis per layer (Figure 6)',
      '|teacher - student| of the mean attention weight alpha, of ||f(x)|| and of ||sum_h alpha f(x)|| for keys of ' +
        'each token class.',
    ],
    'norm-heatmaps': [
      'Norm-based analysis per head',
      'Attention received by the token (PROB), ||f(x)|| of the token and ||alpha f(x)|| of its query row, per layer ' +
        'and head; then |teacher - student|.',
    ],
  },
  tables: () => [],
};
