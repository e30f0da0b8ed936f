/** Figures of the Hessian spectra: Figure 3's eigenvalue densities and the top eigenvalue per parameter group. */
import { CONFIG, labelOf, labelsOf, legendWidth, modelScale, PAGE, SCHEMA } from '../plot-style.js';
import type { AnalysisMeta, Spec } from '../types.js';
import { hessianLossText, type HessianResults } from '../run-hessian.js';

/** Figure 3: density (KDE) of the collected eigenvalues, negative and positive panels, one curve per model. */
export function hessianDensitySpec(hr: HessianResults, meta: AnalysisMeta): Spec | null {
  const rows: Record<string, unknown>[] = [];
  for (const [id, h] of Object.entries(hr.models)) {
    const label = labelOf(meta, id);
    for (const e of h.perExample)
      for (const v of e.eigenvalues)
        if (Number.isFinite(v) && v !== 0)
          rows.push({ model: label, value: v, sign: v < 0 ? 'Negative Max Eigenvalue' : 'Positive Max Eigenvalue' });
  }
  const color = { field: 'model', type: 'nominal', title: null, scale: modelScale(meta, labelsOf(rows)) };
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
        `${meta.task}: top-${hr.settings.topN} eigenvalues per example (${hr.settings.mode} mode)`,
        `loss: ${hessianLossText(hr.settings)}`,
      ],
    },
    data: { values: rows },
    hconcat: signs.map(panel),
  };
}

/** Mean top eigenvalue per parameter subset (embeddings, layer.i, head) and model. */
export function hessianLayersSpec(hr: HessianResults, meta: AnalysisMeta): Spec | null {
  const rows: Record<string, unknown>[] = [];
  for (const [id, h] of Object.entries(hr.models)) {
    const label = labelOf(meta, id);
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
  const scale = modelScale(meta, labelsOf(rows));
  return {
    $schema: SCHEMA,
    ...CONFIG,
    width: Math.min(760, PAGE - 90 - legendWidth(scale.domain)),
    height: 260,
    title: {
      text: 'Top Hessian eigenvalue per parameter group',
      subtitle:
        'mean over examples; each group differentiated alone (diagonal block)' + (wide ? '; symmetric-log axis' : ''),
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
