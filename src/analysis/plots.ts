/**
 * Vega-lite specs of the analysis figures (the paper's Figures 3-6 and the per-head heatmaps), built from the
 * results JSON of src/analysis/run.ts. Pure data -> spec functions; rendering is src/report's job.
 */
import type { AnalysisResults } from './run.js';
import { hessianLossText } from './run-hessian.js';
import { TOKEN_CLASSES } from './norm-analysis.js';

export type Spec = Record<string, unknown>;

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';
const FONT = { font: 'DejaVu Sans' };
const CONFIG = {
  config: {
    ...FONT,
    view: { stroke: '#ddd' },
    axis: { labelFont: FONT.font, titleFont: FONT.font },
    legend: { labelFont: FONT.font, titleFont: FONT.font, symbolOpacity: 1, labelLimit: 0 },
    header: { labelFont: FONT.font, titleFont: FONT.font },
    title: { font: FONT.font },
  },
};

/** Colours of the models other than the teacher (grey), in the order of r.meta.models. */
const MODEL_COLOURS = ['#1f77b4', '#ff7f0e', '#d62728', '#2ca02c', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

/**
 * One colour per model in every figure of a report (the teacher grey, the others in meta order), with the legend
 * listing only the models of this figure.
 */
export function modelScale(r: AnalysisResults, present: Iterable<unknown>): { domain: string[]; range: string[] } {
  const has = new Set(present);
  let k = 0;
  const all = r.meta.models.map((m) => ({
    label: m.label,
    colour: m.role === 'teacher' ? '#7f7f7f' : MODEL_COLOURS[k++ % MODEL_COLOURS.length],
  }));
  const shown = all.filter((m) => has.has(m.label));
  return { domain: shown.map((m) => m.label), range: shown.map((m) => m.colour) };
}
const labelsOf = (rows: Record<string, unknown>[]) => rows.map((x) => x.model);
/** About the width in px of a legend of these labels (12 px font: ~7 px per character, plus the symbol). */
const legendWidth = (labels: string[]) => 30 + 7 * Math.max(0, ...labels.map((l) => l.length));
/** The report page's content is 1086 px wide: a figure's plot area, axes and legend stay within ~1000 px. */
const PAGE = 1000;

const METRIC_TITLES: Record<string, string> = {
  rankingLoss: 'Ranking loss (sum)',
  coverLengthRatio: 'Cover length ratio (top-5)',
  rowKl: 'Row KL (map loss per head)',
};

/** Figure 4: one line per student over head index (layer * H + head), mean over examples with a +-1 std band. */
export function distanceSpec(r: AnalysisResults, metric: 'rankingLoss' | 'coverLengthRatio' | 'rowKl'): Spec | null {
  if (!r.distance) return null;
  const rows: Record<string, unknown>[] = [];
  for (const [id, d] of Object.entries(r.distance.models)) {
    const label = r.meta.models.find((m) => m.id === id)?.label ?? id;
    d[metric].mean.forEach((layer, l) =>
      layer.forEach((mean, h) => {
        const sd = d[metric].std[l][h];
        // the three distances are non-negative: the band is clipped to the quantity's domain
        rows.push({
          model: label,
          head: l * layer.length + h,
          layer: l,
          h,
          mean,
          lo: Math.max(0, mean - sd),
          hi: mean + sd,
        });
      }),
    );
  }
  const n = r.distance.examples;
  const scale = modelScale(r, labelsOf(rows));
  return {
    $schema: SCHEMA,
    ...CONFIG,
    width: 640,
    height: 260,
    title: {
      text: `${METRIC_TITLES[metric]} vs teacher, per head`,
      subtitle: `${r.meta.task}: mean over ${n} dev example${n === 1 ? '' : 's'}${n > 1 ? ', band = +-1 std (clipped at 0)' : ''}`,
    },
    data: { values: rows },
    encoding: {
      x: {
        field: 'head',
        type: 'quantitative',
        title: 'head index (layer x heads + head)',
        axis: { tickMinStep: 1, format: 'd' },
      },
      color: { field: 'model', type: 'nominal', title: null, scale },
    },
    layer: [
      ...(n > 1
        ? [
            {
              mark: { type: 'area', opacity: 0.12 },
              encoding: {
                y: { field: 'lo', type: 'quantitative', title: METRIC_TITLES[metric] },
                y2: { field: 'hi' },
                color: { field: 'model', type: 'nominal', scale },
              },
            },
          ]
        : []),
      {
        mark: { type: 'line', point: { size: 20 } },
        encoding: {
          y: { field: 'mean', type: 'quantitative', title: METRIC_TITLES[metric] },
          tooltip: [{ field: 'model' }, { field: 'layer' }, { field: 'h' }, { field: 'mean', format: '.4g' }],
        },
      },
    ],
  };
}

/** Figure 3: density (KDE) of the collected eigenvalues, negative and positive panels, one curve per model. */
export function hessianDensitySpec(r: AnalysisResults): Spec | null {
  if (!r.hessian) return null;
  const rows: Record<string, unknown>[] = [];
  for (const [id, h] of Object.entries(r.hessian.models)) {
    const label = r.meta.models.find((m) => m.id === id)?.label ?? id;
    for (const e of h.perExample)
      for (const v of e.eigenvalues)
        if (Number.isFinite(v) && v !== 0)
          rows.push({ model: label, value: v, sign: v < 0 ? 'Negative Max Eigenvalue' : 'Positive Max Eigenvalue' });
  }
  const color = { field: 'model', type: 'nominal', title: null, scale: modelScale(r, labelsOf(rows)) };
  const signs = ['Negative Max Eigenvalue', 'Positive Max Eigenvalue'].filter((s) => rows.some((x) => x.sign === s));
  if (!signs.length) return null;
  // values spanning orders of magnitude (a norm-term eigenvalue of 5e8 beside data curvatures of 1..100): the
  // density of log10|value|, ticks labelled as powers of ten; panels share the full width
  const width = signs.length === 1 ? 620 : 290; // fits the report page (1086 px) with the legend: never scaled down
  for (const x of rows) x.log = Math.log10(Math.abs(x.value as number));
  // kernel density (vega's default bandwidth, Scott's rule) plus a rug of the eigenvalues themselves
  const panel = (sign: string) => {
    const mags = rows.filter((x) => x.sign === sign).map((x) => Math.abs(x.value as number));
    const log = Math.max(...mags) / Math.min(...mags) > 100;
    const f = log ? 'log' : 'value';
    // the density's extent reaches a little past the outermost eigenvalues: curves fall off instead of ending cut
    const xs = rows.filter((x) => x.sign === sign).map((x) => x[f] as number);
    const lo = Math.min(...xs),
      hi = Math.max(...xs),
      pad = Math.max(0.15 * (hi - lo), 1e-3 * Math.max(Math.abs(lo), Math.abs(hi), 1));
    const density = { density: f, groupby: ['model'], steps: 200, extent: [lo - pad, hi + pad], as: [f, 'density'] };
    const xEnc = {
      field: f,
      type: 'quantitative',
      title: log ? `${sign.startsWith('Neg') ? '|eigenvalue|' : 'eigenvalue'} (log scale)` : 'eigenvalue',
      ...(log
        ? { axis: { tickMinStep: 1, labelExpr: "'1e' + format(datum.value, 'd')" } }
        : { axis: { format: '~g' } }),
    };
    return {
      width,
      height: 200,
      title: sign,
      transform: [{ filter: { field: 'sign', equal: sign } }],
      layer: [
        {
          transform: [density],
          mark: { type: 'area', opacity: 0.2 },
          encoding: {
            x: { ...xEnc, scale: { nice: false, zero: false } },
            y: { field: 'density', type: 'quantitative', title: log ? 'Density (of log10)' : 'Density', stack: null },
            color,
          },
        },
        {
          transform: [density],
          mark: { type: 'line', strokeWidth: 1.5 },
          encoding: { x: { field: f, type: 'quantitative' }, y: { field: 'density', type: 'quantitative' }, color },
        },
        {
          mark: { type: 'tick', thickness: 1, size: 8, opacity: 0.7 },
          encoding: { x: { field: f, type: 'quantitative' }, y: { value: 196 }, color },
        },
      ],
    };
  };
  return {
    $schema: SCHEMA,
    ...CONFIG,
    title: {
      text: 'Hessian eigenvalue spectra',
      subtitle: [
        `${r.meta.task}: top-${r.hessian.settings.topN} eigenvalues per example (${r.hessian.settings.mode} mode)`,
        `loss: ${hessianLossText(r.hessian.settings)}`,
      ],
    },
    data: { values: rows },
    hconcat: signs.map(panel),
  };
}

/** Mean top eigenvalue per parameter subset (embeddings, layer.i, head) and model. */
export function hessianLayersSpec(r: AnalysisResults): Spec | null {
  if (!r.hessian) return null;
  const rows: Record<string, unknown>[] = [];
  for (const [id, h] of Object.entries(r.hessian.models)) {
    const label = r.meta.models.find((m) => m.id === id)?.label ?? id;
    const acc = new Map<string, number[]>();
    for (const e of h.perExample)
      for (const [k, v] of Object.entries(e.layers ?? {})) acc.set(k, [...(acc.get(k) ?? []), v]);
    for (const [k, vs] of acc) rows.push({ model: label, subset: k, value: vs.reduce((a, b) => a + b, 0) / vs.length });
  }
  if (!rows.length) return null;
  const order = [...new Set(rows.map((x) => x.subset as string))];
  // values spanning orders of magnitude (a norm-term artefact beside data curvatures): a symmetric-log axis
  const mags = rows.map((x) => Math.abs(x.value as number)).filter((x) => x > 0);
  const wide = mags.length > 1 && Math.max(...mags) / Math.min(...mags) > 100;
  const decades = Array.from({ length: Math.ceil(Math.log10(Math.max(...mags, 1))) + 1 }, (_, i) => 10 ** i);
  const ticks = [...(rows.some((x) => (x.value as number) < 0) ? decades.map((d) => -d).reverse() : []), 0, ...decades];
  const scale = modelScale(r, labelsOf(rows));
  return {
    $schema: SCHEMA,
    ...CONFIG,
    width: Math.min(760, PAGE - 90 - legendWidth(scale.domain)),
    height: 260,
    title: {
      text: 'Top Hessian eigenvalue per parameter group',
      subtitle: `mean over examples; each group differentiated alone (diagonal block)${wide ? '; symmetric-log axis' : ''}`,
    },
    data: { values: rows },
    mark: 'bar',
    encoding: {
      x: { field: 'subset', type: 'nominal', sort: order, title: null, axis: { labelAngle: 0 } },
      xOffset: { field: 'model', sort: scale.domain },
      y: {
        field: 'value',
        type: 'quantitative',
        title: 'top eigenvalue',
        ...(wide ? { scale: { type: 'symlog' }, axis: { values: ticks, format: '.0e' } } : {}),
      },
      color: { field: 'model', type: 'nominal', title: null, scale },
    },
  };
}

/** Figure 5: min and max over the hidden dim per token, one panel per layer; teacher grey dashed. */
export function rangeSpec(r: AnalysisResults): Spec | null {
  if (!r.range) return null;
  const rows: Record<string, unknown>[] = [];
  for (const [id, m] of Object.entries(r.range.models)) {
    const meta = r.meta.models.find((x) => x.id === id);
    const label = meta?.label ?? id;
    m.min.forEach((mins, l) =>
      mins.forEach((v, t) => {
        rows.push({ model: label, layer: `layer ${l}`, l, token: t, value: v, stat: 'min', series: `${label} min` });
        rows.push({
          model: label,
          layer: `layer ${l}`,
          l,
          token: t,
          value: m.max[l][t],
          stat: 'max',
          series: `${label} max`,
        });
      }),
    );
  }
  const teacher = r.meta.models.find((m) => m.role === 'teacher')?.label;
  const L = r.range.models[Object.keys(r.range.models)[0]].min.length;
  const cols = Math.min(4, L);
  const scale = modelScale(r, labelsOf(rows));
  // students drawn thick to thin in meta order: one that coincides with a later one still shows around it
  let k = 0;
  const widths = scale.domain.map((m) => (m === teacher ? 1.3 : Math.max(0.9, 2.8 - 0.9 * k++)));
  return {
    $schema: SCHEMA,
    ...CONFIG,
    title: {
      text: 'Attention output dynamic range (min / max over the hidden dim)',
      subtitle: `${r.meta.task}: dev example #${r.range.exampleIndex} (${r.range.tokens.length} tokens)`,
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

const NORM_TITLES: Record<string, string> = {
  alpha: 'Avg. alpha',
  fx: 'Avg. ||f(x)||',
  sumAfx: 'Avg. ||sum alpha f(x)||',
};

/** Figure 6: |teacher - student| per layer for each token class, one curve per student. */
export function normCurvesSpec(r: AnalysisResults): Spec | null {
  if (!r.norms) return null;
  const rows: Record<string, unknown>[] = [];
  for (const [id, byClass] of Object.entries(r.norms.classDiffs)) {
    const label = r.meta.models.find((m) => m.id === id)?.label ?? id;
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
      subtitle: `${r.meta.task}: mean over ${r.norms.examplesUsed} examples${r.norms.token === 'sep' ? ' with [SEP]' : ''}; W_O ${r.norms.wo}`,
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
              "datum.value !== 0 && abs(datum.value) < 1e-3 ? format(datum.value, '.1~e') : format(datum.value, '.2~g')",
          },
        },
        color: { field: 'model', type: 'nominal', title: null, scale: modelScale(r, labelsOf(rows)) },
      },
    },
    resolve: { scale: { y: 'independent' } },
  };
}

/** Per-head heatmaps (layers x heads, Blues): PROB, ||f||, ||alpha f|| per model, then |teacher - student|. */
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

export function normHeatmapSpec(r: AnalysisResults): Spec | null {
  if (!r.norms) return null;
  const rows: Record<string, unknown>[] = [];
  const put = (panel: string, q: string, grid: number[][]) =>
    grid.forEach((hs, l) => hs.forEach((v, h) => rows.push({ panel, quantity: q, layer: l, head: h, value: v })));
  const label = (id: string) => r.meta.models.find((m) => m.id === id)?.label ?? id;
  const panels: string[] = [];
  const first = Object.values(r.norms.heads)[0];
  if (!first?.prob.length) return null;
  const L = first.prob.length,
    H = first.prob[0].length;
  for (const [id, v] of Object.entries(r.norms.heads)) {
    panels.push(label(id));
    put(label(id), 'PROB', v.prob);
    put(label(id), '||f(x)||', v.fx);
    put(label(id), '||alpha f(x)||', v.afx);
  }
  for (const [id, v] of Object.entries(r.norms.headDiffs)) {
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
      text: `Per-head norms at token ${r.norms.token === 'sep' ? 'first [SEP]' : `#${r.norms.token}`}`,
      subtitle: `${r.meta.task}: mean over ${r.norms.examplesUsed} examples; each panel has its own colour scale`,
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

/** Every figure of a results object, keyed by output file base name (null specs dropped). */
export function allSpecs(r: AnalysisResults): Record<string, Spec> {
  const s: Record<string, Spec | null> = {
    'distance-ranking-loss': distanceSpec(r, 'rankingLoss'),
    'distance-cover-length': distanceSpec(r, 'coverLengthRatio'),
    'distance-row-kl': distanceSpec(r, 'rowKl'),
    'hessian-density': hessianDensitySpec(r),
    'hessian-layers': hessianLayersSpec(r),
    'range-min-max': rangeSpec(r),
    'norm-curves': normCurvesSpec(r),
    'norm-heatmaps': normHeatmapSpec(r),
  };
  return Object.fromEntries(Object.entries(s).filter(([, v]) => v !== null)) as Record<string, Spec>;
}
