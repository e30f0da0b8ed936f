/** Figures of the norm-based analysis: Figure 6's per-layer curves and the per-head heatmaps. */
import { TOKEN_CLASSES } from '../norm-analysis.js';
import { CONFIG, labelOf, labelsOf, modelScale, SCHEMA } from '../plot-style.js';
import type { AnalysisMeta, Spec } from '../types.js';
import type { NormsResult } from './norms-accumulate.js';

const NORM_TITLES: Record<string, string> = {
  alpha: 'Avg. alpha',
  fx: 'Avg. ||f(x)||',
  sumAfx: 'Avg. ||sum alpha f(x)||',
};

/** Figure 6: |teacher - student| per layer for each token class, one curve per student. */
export function normCurvesSpec(n: NormsResult, meta: AnalysisMeta): Spec {
  const rows: Record<string, unknown>[] = [];
  for (const [id, byClass] of Object.entries(n.classDiffs)) {
    const label = labelOf(meta, id);
    for (const cls of TOKEN_CLASSES) {
      const c = byClass[cls];
      for (const q of ['alpha', 'fx', 'sumAfx'] as const)
        c[q].forEach((v, l) => {
          if (v !== null && Number.isFinite(v))
            rows.push({ model: label, cls, quantity: NORM_TITLES[q], layer: l, value: v });
        });
    }
  }
  return {
    $schema: SCHEMA,
    ...CONFIG,
    title: {
      text: 'Norm-based analysis: |teacher - student| per layer and token class',
      subtitle:
        `${meta.task}: mean over ${n.examplesUsed} examples` + `${n.token === 'sep' ? ' with [SEP]' : ''}; W_O ${n.wo}`,
    },
    data: { values: rows },
    // three columns (quantities) by five rows (token classes): narrow enough for the page not to scale it down
    facet: {
      column: {
        field: 'quantity',
        type: 'nominal',
        title: null,
        sort: Object.values(NORM_TITLES),
        header: { labelFontSize: 13, labelFontWeight: 'bold' },
      },
      row: {
        field: 'cls',
        type: 'nominal',
        title: null,
        sort: [...TOKEN_CLASSES],
        header: { labelFontSize: 13, labelFontWeight: 'bold', labelAngle: 0, labelAlign: 'left' },
      },
    },
    spec: {
      width: 150,
      height: 90,
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'layer', type: 'quantitative', title: 'layer', axis: { tickMinStep: 1, format: 'd' } },
        // small differences (1e-5, 1e-9) in exponent notation instead of 0.000005
        y: {
          field: 'value',
          type: 'quantitative',
          title: '|T - S|',
          axis: {
            labelExpr:
              'datum.value !== 0 && abs(datum.value) < 1e-3 ' +
              "? format(datum.value, '.1~e') : format(datum.value, '.2~g')",
          },
        },
        color: { field: 'model', type: 'nominal', title: null, scale: modelScale(meta, labelsOf(rows)) },
      },
    },
    resolve: { scale: { y: 'independent' } },
  };
}

/**
 * A d3 format with enough significant digits that every panel's colour bar shows distinct ends (a panel whose values
 * span 0.0188..0.0192 needs 3, not "0.019-0.019"); a constant panel shows its one value.
 */
export function legendFormat(rows: Record<string, unknown>[]): string {
  const by = new Map<unknown, number[]>();
  for (const x of rows)
    by.set(`${x.panel}|${x.quantity}`, [...(by.get(`${x.panel}|${x.quantity}`) ?? []), x.value as number]);
  let digits = 2;
  for (const vs of by.values()) {
    const lo = Math.min(...vs),
      hi = Math.max(...vs),
      mag = Math.max(Math.abs(lo), Math.abs(hi));
    if (hi > lo && mag > 0) digits = Math.max(digits, Math.min(6, Math.ceil(Math.log10(mag / (hi - lo))) + 1));
  }
  return `.${digits}~g`;
}

/** Per-head heatmaps (layers x heads, Blues): PROB, ||f||, ||alpha f|| per model, then |teacher - student|. */
export function normHeatmapSpec(n: NormsResult, meta: AnalysisMeta): Spec | null {
  const rows: Record<string, unknown>[] = [];
  const put = (panel: string, q: string, grid: number[][]) =>
    grid.forEach((hs, l) => hs.forEach((v, h) => rows.push({ panel, quantity: q, layer: l, head: h, value: v })));
  const label = (id: string) => labelOf(meta, id);
  const panels: string[] = [];
  const first = Object.values(n.heads)[0];
  if (!first?.prob.length) return null;
  const L = first.prob.length,
    H = first.prob[0].length;
  for (const [id, v] of Object.entries(n.heads)) {
    panels.push(label(id));
    put(label(id), 'PROB', v.prob);
    put(label(id), '||f(x)||', v.fx);
    put(label(id), '||alpha f(x)||', v.afx);
  }
  for (const [id, v] of Object.entries(n.headDiffs)) {
    const p = `|T - S| ${label(id)}`;
    panels.push(p);
    put(p, 'PROB', v.prob);
    put(p, '||f(x)||', v.fx);
    put(p, '||alpha f(x)||', v.afx);
  }
  return {
    $schema: SCHEMA,
    ...CONFIG,
    title: {
      text: `Per-head norms at token ${n.token === 'sep' ? 'first [SEP]' : `#${n.token}`}`,
      subtitle: `${meta.task}: mean over ${n.examplesUsed} examples; each panel has its own colour scale`,
    },
    data: { values: rows },
    facet: {
      row: {
        field: 'panel',
        type: 'nominal',
        title: null,
        sort: panels,
        header: { labelAngle: 0, labelAlign: 'left', labelLimit: 0, labelFontWeight: 'bold' },
      },
      column: {
        field: 'quantity',
        type: 'nominal',
        title: null,
        sort: ['PROB', '||f(x)||', '||alpha f(x)||'],
        header: { labelFontWeight: 'bold' },
      },
    },
    spec: {
      width: Math.max(100, 14 * H),
      height: Math.max(80, 10 * L),
      encoding: {
        x: { field: 'head', type: 'ordinal', title: 'head', axis: { labelAngle: 0 } },
        y: { field: 'layer', type: 'ordinal', title: 'layer', sort: 'descending' },
      },
      layer: [
        {
          mark: 'rect',
          encoding: {
            color: {
              field: 'value',
              type: 'quantitative',
              scale: { scheme: L * H <= 48 ? { name: 'blues', extent: [0.05, 0.65] } : 'blues' },
              title: null,
              legend: { gradientLength: 70, format: legendFormat(rows), labelFontSize: 9 },
            },
            tooltip: [{ field: 'layer' }, { field: 'head' }, { field: 'value', format: '.4g' }],
          },
        },
        // values written into the cells when the grid is small enough to read them
        ...(L * H <= 48
          ? [
              {
                mark: { type: 'text', fontSize: 9 },
                encoding: { text: { field: 'value', format: '.2e' }, color: { value: '#222' } },
              },
            ]
          : []),
      ],
    },
    resolve: { scale: { color: 'independent' }, legend: { color: 'independent' } },
  };
}
