/**
 * Attention-output dynamic range (docs/method.md §7c, Figure 5): per layer and token, the min and max over the hidden
 * dimension of the post-LayerNorm attention output, of one chosen example, and their token means over all examples.
 */
import { attentionOutputRange } from '../range.js';
import { CONFIG, labelOf, labelsOf, legendWidth, modelScale, PAGE, SCHEMA } from '../plot-style.js';
import type { AnalysisMeta, ForwardAnalysis, Spec } from '../types.js';

export interface RangeSettings {
  /** position in the examples of the example the figure shows */
  example: number;
}

export interface RangeResult {
  exampleIndex: number;
  tokens: number[];
  models: Record<string, { min: number[][]; max: number[][] }>;
  meanRange: Record<string, { min: number[]; max: number[] }>;
  /** per model, per analysed example: each layer's min and max averaged over the example's tokens ([L] each) */
  perExample: Record<string, { min: number[]; max: number[] }[]>;
}

/** Figure 5: min and max over the hidden dim per token, one panel per layer; teacher grey dashed. */
function rangeSpec(r: RangeResult, meta: AnalysisMeta): Spec {
  const rows: Record<string, unknown>[] = [];
  for (const [id, m] of Object.entries(r.models)) {
    const label = labelOf(meta, id);
    const row = (l: number, t: number, value: number, stat: string) =>
      rows.push({ model: label, layer: `layer ${l}`, l, token: t, value, stat, series: `${label} ${stat}` });
    m.min.forEach((mins, l) =>
      mins.forEach((v, t) => {
        row(l, t, v, 'min');
        row(l, t, m.max[l][t], 'max');
      }),
    );
  }
  const teacher = meta.models.find((m) => m.role === 'teacher')?.label;
  const L = r.models[Object.keys(r.models)[0]].min.length;
  const cols = Math.min(4, L);
  const scale = modelScale(meta, labelsOf(rows));
  // students drawn thick to thin in meta order: one that coincides with a later one still shows around it
  let k = 0;
  const widths = scale.domain.map((m) => (m === teacher ? 1.3 : Math.max(0.9, 2.8 - 0.9 * k++)));
  return {
    $schema: SCHEMA,
    ...CONFIG,
    title: {
      text: 'Attention output dynamic range (min / max over the hidden dim)',
      subtitle: `${meta.task}: dev example #${r.exampleIndex} (${r.tokens.length} tokens)`,
    },
    data: { values: rows },
    facet: { field: 'layer', type: 'nominal', title: null, sort: Array.from({ length: L }, (_, l) => `layer ${l}`) },
    columns: cols,
    spec: {
      width: Math.max(160, Math.floor((PAGE - legendWidth(scale.domain)) / cols) - 60),
      height: 170,
      mark: { type: 'line' },
      encoding: {
        x: { field: 'token', type: 'quantitative', title: 'token index', axis: { format: 'd', tickMinStep: 1 } },
        y: { field: 'value', type: 'quantitative', title: 'value' },
        color: { field: 'model', type: 'nominal', title: null, sort: scale.domain, scale },
        strokeWidth: {
          field: 'model',
          type: 'nominal',
          title: null,
          sort: scale.domain,
          scale: { type: 'ordinal', domain: scale.domain, range: widths },
        },
        strokeDash: {
          condition: { test: `datum.model === ${JSON.stringify(teacher ?? '')}`, value: [4, 3] },
          value: [1, 0],
        },
        detail: { field: 'series' },
      },
    },
    resolve: { scale: { y: 'independent' } },
  };
}

export const range: ForwardAnalysis<'range', RangeSettings, RangeResult> = {
  name: 'range',
  kind: 'forward',
  settings: [
    {
      key: 'example',
      flag: 'range-example',
      field: { kind: 'int', min: 0 },
      help: 'which analysed example (0-based position) the range figure shows',
      default: 0,
    },
  ],
  reads: (m) => m.role !== 'quantized',
  start(ctx, s) {
    const { examples } = ctx;
    if (!(s.example >= 0 && s.example < examples.length))
      throw new Error(`range example ${s.example} outside the ${examples.length} examples`);
    const models = [ctx.teacher, ...ctx.models.filter((m) => m.role === 'student')];
    let res: RangeResult | undefined;
    const sums = new Map<
      string,
      { min: number[]; max: number[]; n: number; perExample: RangeResult['perExample'][string] }
    >();
    return {
      async add(k, e, outs) {
        const n = e.ids.length;
        for (const m of models) {
          const r = await attentionOutputRange(outs.get(m.id)!.attnOutput, 0, n);
          if (k === s.example) {
            res ??= { exampleIndex: e.index, tokens: Array.from(e.ids), models: {}, meanRange: {}, perExample: {} };
            res.models[m.id] = r;
          }
          const acc = sums.get(m.id) ?? { min: r.min.map(() => 0), max: r.max.map(() => 0), n: 0, perExample: [] };
          const tokenMean = (v: number[]) => v.reduce((a, x) => a + x, 0) / n;
          const ex = { min: r.min.map(tokenMean), max: r.max.map(tokenMean) };
          ex.min.forEach((v, l) => {
            acc.min[l] += v;
            acc.max[l] += ex.max[l];
          });
          acc.perExample.push(ex);
          acc.n++;
          sums.set(m.id, acc);
        }
      },
      finish() {
        const out = res!;
        for (const [id, a] of sums) {
          out.meanRange[id] = { min: a.min.map((v) => v / a.n), max: a.max.map((v) => v / a.n) };
          out.perExample[id] = a.perExample;
        }
        return out;
      },
    };
  },
  specs: (r, meta) => ({ 'range-min-max': rangeSpec(r, meta) }),
  captions: {
    'range-min-max': [
      'Attention-output dynamic range (Figure 5)',
      'Per layer and token: minimum and maximum over the hidden dimension of the post-LayerNorm attention output. ' +
        'Teacher dashed grey.',
    ],
  },
  tables: (r, label) => [
    {
      kind: 'table',
      title: 'Attention-output range: mean over tokens and examples',
      digits: 3,
      table: Object.entries(r.meanRange).map(([id, m]) => ({
        model: label(id),
        ...Object.fromEntries(
          m.min.flatMap((v, l) => [
            [`layer ${l} min`, v],
            [`layer ${l} max`, m.max[l]],
          ]),
        ),
      })),
    },
  ],
};
