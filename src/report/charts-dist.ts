/**
 * Vega-lite spec builders for distributions (plain functions returning spec objects; render them with render.ts
 * renderPlot). Every builder checks that the named fields exist and throws naming the field.
 *
 * - barChart: value per category (optionally grouped by series), error bars, dashed reference rule(s)
 * - heatmap: layers x heads, colour legend, optional facet panels
 * - density: KDE of values, positive and negative side by side, series per model
 */
import {
  type Rows,
  type Spread,
  type CommonOpts,
  type Reference,
  W,
  CONFIG,
  fieldRef,
  datum,
  rowsOf,
  check,
  distinct,
  titleOf,
  assemble,
  spreadTransforms,
  referenceLayers,
  colorEnc,
} from './charts-common.js';
import type { VlSpec } from './render.js';

// ---------------------------------------------------------------------------------------------------------------
export interface BarOpts extends CommonOpts {
  data: Rows;
  category: string;
  value: string;
  /** Grouped bars: one bar per series within each category. */
  series?: string;
  seriesTitle?: string;
  /** Spread over repeated rows at the same (category, series); default 'none' (bar = mean, no error bars). */
  spread?: Spread;
  lo?: string;
  hi?: string;
  reference?: Reference | Reference[];
  /** Print the value above each bar with this d3 format (e.g. '.3f'). */
  labelFormat?: string;
  zeroY?: boolean;
}

/** (b) Bars of mean `value` per category (grouped by series), optional error bars and reference rules. */
export function barChart(o: BarOpts): VlSpec {
  const rows = rowsOf('barChart', o.data);
  check('barChart', rows, [o.category, o.value, o.series, o.lo, o.hi]);
  const groupby = o.series ? [o.category, o.series] : [o.category];
  const s = spreadTransforms(groupby, o.value, o.spread ?? 'none', o.lo, o.hi);
  const cats = distinct(rows, o.category);
  // Rotate labels when they would not fit their band (about 7 px per character at 12 px).
  const longLabels = Math.max(...cats.map((c) => String(c).length)) * 7 > (o.width ?? W) / cats.length - 8;
  const x = {
    field: fieldRef(o.category),
    type: 'nominal',
    title: o.xTitle ?? o.category,
    sort: cats,
    scale: { paddingInner: 0.25 },
    axis: { labelAngle: longLabels ? -35 : 0, labelLimit: 0 },
  };
  const series = o.series
    ? {
        color: colorEnc(o.series, o.seriesTitle, distinct(rows, o.series)),
        xOffset: { field: fieldRef(o.series), type: 'nominal', sort: distinct(rows, o.series) },
      }
    : {};
  const y = {
    field: fieldRef(s.mean),
    type: 'quantitative',
    title: o.yTitle ?? o.value,
    scale: { zero: o.zeroY ?? true },
  };
  const layers: unknown[] = [
    { mark: { type: 'bar', ...(o.series ? {} : { color: '#4c78a8' }) }, encoding: { x, y, ...series } },
  ];
  if (s.lo && s.hi) {
    layers.push({
      mark: { type: 'errorbar', ticks: { size: 6 }, color: '#222' },
      encoding: {
        x,
        y: { field: fieldRef(s.lo), type: 'quantitative', title: o.yTitle ?? o.value },
        y2: { field: fieldRef(s.hi) },
        ...(o.series ? { xOffset: series.xOffset } : {}),
      },
    });
  }
  if (o.labelFormat) {
    layers.push({
      mark: { type: 'text', baseline: 'bottom', dy: -3, fontSize: 10 },
      encoding: {
        x,
        y: s.hi ? { ...y, field: fieldRef(s.hi) } : y,
        text: { field: fieldRef(s.mean), type: 'quantitative', format: o.labelFormat },
        ...(o.series ? { xOffset: series.xOffset } : {}),
      },
    });
  }
  layers.push(...referenceLayers(o.reference));
  return assemble(o, rows, s.transform, layers);
}

// ---------------------------------------------------------------------------------------------------------------
export interface HeatmapOpts extends CommonOpts {
  data: Rows;
  /** Column field (e.g. 'head'). */
  x: string;
  /** Row field (e.g. 'layer'). */
  y: string;
  value: string;
  valueTitle?: string;
  facet?: string;
  facetTitle?: string;
  columns?: number;
  /** Colour scheme (default viridis; 'blueorange' centred at 0 when diverging). */
  scheme?: string;
  diverging?: boolean;
  /** Print values in cells with this d3 format (e.g. '.2f'). */
  labelFormat?: string;
  /** Cell size in px (default 28). */
  cell?: number;
}

/** (d) Heatmap of `value` over (x, y) cells, colour legend, optionally one panel per facet value (shared scale). */
export function heatmap(o: HeatmapOpts): VlSpec {
  const rows = rowsOf('heatmap', o.data);
  check('heatmap', rows, [o.x, o.y, o.value, o.facet]);
  const cell = o.cell ?? 28;
  const vals = rows.map((r) => r[o.value]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  const scale = o.diverging ? { scheme: o.scheme ?? 'blueorange', domainMid: 0 } : { scheme: o.scheme ?? 'viridis' };
  const enc = {
    x: { field: fieldRef(o.x), type: 'ordinal', title: o.xTitle ?? o.x, axis: { labelAngle: 0 } },
    y: { field: fieldRef(o.y), type: 'ordinal', title: o.yTitle ?? o.y },
  };
  const layers: unknown[] = [
    {
      mark: { type: 'rect' },
      encoding: {
        ...enc,
        color: {
          field: fieldRef(o.value),
          type: 'quantitative',
          title: o.valueTitle ?? o.value,
          scale,
          legend: { gradientLength: 160 },
        },
      },
    },
  ];
  if (o.labelFormat && vals.length) {
    // Contrast: dark cells get white text. viridis is dark at the low end; diverging schemes at both ends.
    const lo = Math.min(...vals),
      hi = Math.max(...vals),
      amax = Math.max(Math.abs(lo), Math.abs(hi));
    const dark = o.diverging ? `abs(${datum(o.value)}) > ${0.6 * amax}` : `${datum(o.value)} < ${lo + 0.5 * (hi - lo)}`;
    layers.push({
      mark: { type: 'text', fontSize: 10 },
      encoding: {
        ...enc,
        text: { field: fieldRef(o.value), type: 'quantitative', format: o.labelFormat },
        color: { condition: { test: dark, value: 'white' }, value: 'black' },
      },
    });
  }
  const size = { width: { step: cell }, height: { step: cell } };
  const facet = o.facet ? { field: o.facet, title: o.facetTitle, columns: o.columns } : undefined;
  const spec = assemble({ ...o, width: undefined, height: undefined }, rows, [], layers, facet);
  Object.assign(facet ? (spec.spec as Record<string, unknown>) : spec, size);
  return spec;
}

// ---------------------------------------------------------------------------------------------------------------
export interface DensityOpts extends CommonOpts {
  data: Rows;
  value: string;
  series?: string;
  seriesTitle?: string;
  /** Separate panels for values >= 0 and < 0 (default true). */
  splitSign?: boolean;
  /** Panel labels (default 'positive', 'negative'). */
  signLabels?: [string, string];
  /** KDE bandwidth (default: Scott's rule per group). */
  bandwidth?: number;
  steps?: number;
}

/** (e) Kernel density of `value` per series; positive and negative values side by side (own x range each). */
export function density(o: DensityOpts): VlSpec {
  const rows = rowsOf('density', o.data);
  check('density', rows, [o.value, o.series]);
  const vals = rows.map((r) => r[o.value]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  if (vals.length === 0) throw new Error(`density: field "${o.value}" has no finite numbers`);
  const color = o.series ? { color: colorEnc(o.series, o.seriesTitle, distinct(rows, o.series)) } : {};
  const panel = (filter: string | null, inVals: number[], title?: string) => {
    const transform: unknown[] = [
      { filter: `isFinite(${datum(o.value)})${filter ? ` && ${datum(o.value)} ${filter}` : ''}` },
    ];
    const lo = Math.min(...inVals),
      hi = Math.max(...inVals);
    transform.push({
      density: fieldRef(o.value),
      groupby: o.series ? [fieldRef(o.series)] : [],
      steps: o.steps ?? 200,
      extent: [lo, hi > lo ? hi : lo + 1],
      as: ['_x', '_density'],
      ...(o.bandwidth ? { bandwidth: o.bandwidth } : {}),
    });
    const x = { field: '_x', type: 'quantitative', title: o.xTitle ?? o.value, scale: { zero: false, nice: false } };
    const y = { field: '_density', type: 'quantitative', title: o.yTitle ?? 'density', stack: null };
    return {
      ...(title ? { title: { text: title, fontSize: 13, fontWeight: 'normal' } } : {}),
      width: o.width ?? 360,
      height: o.height ?? 260,
      transform,
      layer: [
        { mark: { type: 'area', opacity: 0.15 }, encoding: { x, y, ...color } },
        { mark: { type: 'line', strokeWidth: 1.8 }, encoding: { x, y, ...color } },
      ],
    };
  };
  const base = { title: titleOf(o), data: { values: rows }, config: CONFIG };
  if (!(o.splitSign ?? true)) return { ...base, ...panel(null, vals) };
  const [pos, neg] = o.signLabels ?? ['positive', 'negative'];
  const pv = vals.filter((v) => v >= 0),
    nv = vals.filter((v) => v < 0);
  const panels = [
    ...(pv.length ? [panel('>= 0', pv, `${pos} (n = ${pv.length})`)] : []),
    ...(nv.length ? [panel('< 0', nv, `${neg} (n = ${nv.length})`)] : []),
  ];
  return { ...base, hconcat: panels, resolve: { scale: { x: 'independent', y: 'independent' } } };
}
