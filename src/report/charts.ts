/**
 * Vega-lite spec builders (plain functions returning spec objects; render them with render.ts renderPlot).
 * Data is inlined: rows (array of objects) or an arquero table. Field names are escaped for vega-lite, so names with
 * dots (e.g. "loss.kd") are fine. Every builder checks that the named fields exist and throws naming the field.
 *
 * - lineBand: metric vs coefficient, one line per series, band/bars = seed spread (min-max or ±std)
 * - barChart: value per category (optionally grouped by series), error bars, dashed reference rule(s)
 * - indexLines: values over an integer index (head, token), series per model, optional facets (e.g. layer)
 * - heatmap: layers x heads, colour legend, optional facet panels
 * - density: KDE of values, positive and negative side by side, series per model
 * - lossCurves: loss terms over steps, optional log scale and smoothing
 * - scatter: one labelled point per row (e.g. metric vs model size), coloured by a category
 */
import type { ColumnTable } from 'arquero';
import type { VlSpec } from './render.js';

type Row = Record<string, unknown>;
export type Rows = readonly Row[] | ColumnTable;
/** Spread over repeated rows (seeds) at the same x/series: min..max, mean ± sample std, or none. */
export type Spread = 'minmax' | 'std' | 'none';

export interface CommonOpts {
  title: string;
  subtitle?: string;
  xTitle?: string;
  yTitle?: string;
  /** Plot area (per panel) in px. */
  width?: number;
  height?: number;
}

/** A horizontal dashed line at `value` (e.g. the FP teacher metric), labelled at the right end. */
export interface Reference {
  value: number;
  label?: string;
  color?: string;
}

const W = 480,
  H = 300;
const CONFIG = {
  title: { fontSize: 16, subtitleFontSize: 12, subtitleColor: '#555', anchor: 'start', offset: 10 },
  axis: { labelFontSize: 12, titleFontSize: 13, titlePadding: 8 },
  legend: { labelFontSize: 12, titleFontSize: 12, labelLimit: 0, symbolOpacity: 1 },
  header: { labelFontSize: 13, titleFontSize: 13 },
};
const PALETTE = 'tableau10';

/** Escape a field name for vega-lite field references ('.' and '[' ']' are path syntax). */
export function fieldRef(name: string): string {
  return name.replace(/([.[\]\\])/g, '\\$1');
}
/** A vega expression reading field `name` of the current datum. */
const datum = (name: string) => `datum[${JSON.stringify(name)}]`;

function rowsOf(fn: string, data: Rows): Row[] {
  const rows = Array.isArray(data) ? [...(data as readonly Row[])] : ((data as ColumnTable).objects() as Row[]);
  if (rows.length === 0) throw new Error(`${fn}: no data rows`);
  return rows;
}

function check(fn: string, rows: Row[], fields: (string | undefined)[]): void {
  for (const f of fields) {
    if (f === undefined) continue;
    if (!rows.some((r) => f in r))
      throw new Error(`${fn}: field "${f}" not in data (columns: ${Object.keys(rows[0]).join(', ')})`);
  }
}

/** Distinct values of `field` in first-appearance order (to keep the caller's order in axes and legends). */
function distinct(rows: Row[], field: string): unknown[] {
  const seen = new Set<unknown>();
  for (const r of rows) if (r[field] !== undefined && r[field] !== null) seen.add(r[field]);
  return [...seen];
}

function titleOf(o: CommonOpts): Record<string, unknown> {
  return o.subtitle ? { text: o.title, subtitle: o.subtitle } : { text: o.title };
}

/**
 * Top-level spec: a layered unit chart, or a facet (wrapping `columns` panels) over `facet` when given.
 * `extra` goes to the top level (e.g. resolve).
 */
function assemble(
  o: CommonOpts,
  rows: Row[],
  transform: unknown[],
  layer: unknown[],
  facet?: { field: string; title?: string; columns?: number; sort?: unknown[] },
  extra: Record<string, unknown> = {},
): VlSpec {
  const size = { width: o.width ?? W, height: o.height ?? H };
  const base: Record<string, unknown> = { title: titleOf(o), data: { values: rows }, config: CONFIG, ...extra };
  if (transform.length) base.transform = transform;
  if (!facet) return { ...base, ...size, layer };
  return {
    ...base,
    facet: {
      field: fieldRef(facet.field),
      type: 'ordinal',
      title: null,
      sort: facet.sort ?? distinct(rows, facet.field),
      // (datum.label) in parentheses: vega-lite 6.5 substitutes it without them, breaking operator precedence.
      header: {
        labelExpr:
          facet.title === '' ? 'datum.label' : `${JSON.stringify((facet.title ?? facet.field) + ' ')} + (datum.label)`,
        labelFontWeight: 'bold',
      },
    },
    columns: facet.columns ?? 3,
    spec: { ...size, layer },
  };
}

/** Aggregate repeated rows into _mean/_lo/_hi per group (or use caller's lo/hi fields on pre-aggregated rows). */
function spreadTransforms(
  groupby: string[],
  y: string,
  spread: Spread,
  lo?: string,
  hi?: string,
): { transform: unknown[]; mean: string; lo?: string; hi?: string } {
  if (lo !== undefined || hi !== undefined) {
    if (lo === undefined || hi === undefined) throw new Error('charts: give both lo and hi fields, or neither');
    return { transform: [], mean: y, lo, hi };
  }
  const transform: unknown[] = [
    {
      aggregate: [
        { op: 'mean', field: fieldRef(y), as: '_mean' },
        { op: 'min', field: fieldRef(y), as: '_min' },
        { op: 'max', field: fieldRef(y), as: '_max' },
        { op: 'stdev', field: fieldRef(y), as: '_sd' },
        { op: 'valid', field: fieldRef(y), as: '_n' },
      ],
      groupby: groupby.map(fieldRef),
    },
  ];
  if (spread === 'none') return { transform, mean: '_mean' };
  if (spread === 'minmax') return { transform, mean: '_mean', lo: '_min', hi: '_max' };
  transform.push(
    { calculate: `datum._mean - (isValid(datum._sd) ? datum._sd : 0)`, as: '_lo' },
    { calculate: `datum._mean + (isValid(datum._sd) ? datum._sd : 0)`, as: '_hi' },
  );
  return { transform, mean: '_mean', lo: '_lo', hi: '_hi' };
}

function referenceLayers(refs: Reference | Reference[] | undefined): unknown[] {
  const list = refs === undefined ? [] : Array.isArray(refs) ? refs : [refs];
  return list.flatMap((r) => {
    if (!Number.isFinite(r.value))
      throw new Error(`charts: reference "${r.label ?? ''}" has non-finite value ${r.value}`);
    const color = r.color ?? '#333';
    const d = { data: { values: [{ _ref: r.value, _label: r.label ?? '' }] } };
    const rule = {
      ...d,
      mark: { type: 'rule', strokeDash: [6, 4], color, strokeWidth: 1.5 },
      encoding: { y: { field: '_ref', type: 'quantitative' } },
    };
    if (!r.label) return [rule];
    const text = {
      ...d,
      // in the right margin, clear of bars and lines
      mark: { type: 'text', align: 'left', baseline: 'middle', dx: 4, color, fontSize: 11 },
      encoding: { y: { field: '_ref', type: 'quantitative' }, x: { value: 'width' }, text: { field: '_label' } },
    };
    return [rule, text];
  });
}

const colorEnc = (field: string, title: string | undefined, domain: unknown[]) => ({
  field: fieldRef(field),
  type: 'nominal',
  title: title ?? field,
  scale: { domain, scheme: PALETTE },
});

// ---------------------------------------------------------------------------------------------------------------
export interface LineBandOpts extends CommonOpts {
  data: Rows;
  x: string;
  y: string;
  series?: string;
  seriesTitle?: string;
  /** Spread over repeated rows (seeds) at the same (x, series); default 'minmax'. Ignored when lo/hi are given. */
  spread?: Spread;
  /** Pre-aggregated data: fields holding the lower/upper ends (y is then the centre). */
  lo?: string;
  hi?: string;
  /** 'band' (shaded area, default) or 'bars' (error bars). */
  style?: 'band' | 'bars';
  logX?: boolean;
  /** Include 0 in the y scale (default false). */
  zeroY?: boolean;
  reference?: Reference | Reference[];
}

/** (a) Line of the mean of `y` over numeric `x` per series, with the seed spread as band or error bars. */
export function lineBand(o: LineBandOpts): VlSpec {
  const rows = rowsOf('lineBand', o.data);
  check('lineBand', rows, [o.x, o.y, o.series, o.lo, o.hi]);
  const groupby = o.series ? [o.x, o.series] : [o.x];
  const s = spreadTransforms(groupby, o.y, o.spread ?? 'minmax', o.lo, o.hi);
  const x = {
    field: fieldRef(o.x),
    type: 'quantitative',
    title: o.xTitle ?? o.x,
    scale: o.logX ? { type: 'log' } : { zero: false },
    axis: { labelFlush: false },
  };
  const yScale = { zero: o.zeroY ?? false };
  const color = o.series ? { color: colorEnc(o.series, o.seriesTitle, distinct(rows, o.series)) } : {};
  const layers: unknown[] = [];
  if (s.lo && s.hi) {
    const enc = {
      x,
      y: { field: fieldRef(s.lo), type: 'quantitative', scale: yScale, title: o.yTitle ?? o.y },
      y2: { field: fieldRef(s.hi) },
      ...color,
    };
    layers.push(
      o.style === 'bars'
        ? { mark: { type: 'errorbar', ticks: true }, encoding: enc }
        : { mark: { type: 'area', opacity: 0.18 }, encoding: enc },
    );
  }
  layers.push({
    mark: { type: 'line', point: true, strokeWidth: 2 },
    encoding: {
      x,
      y: { field: fieldRef(s.mean), type: 'quantitative', title: o.yTitle ?? o.y, scale: yScale },
      ...color,
    },
  });
  layers.push(...referenceLayers(o.reference));
  return assemble(o, rows, s.transform, layers);
}

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
export interface IndexLinesOpts extends CommonOpts {
  data: Rows;
  /** Integer index field (head, token position). */
  x: string;
  /** One value field, or several (e.g. ['min', 'max']) drawn as separate lines (dash style when series is set). */
  y: string | string[];
  series?: string;
  seriesTitle?: string;
  /** Title for the legend of the y fields when y is an array. */
  measureTitle?: string;
  /** Shaded band between these fields (single y only). */
  lo?: string;
  hi?: string;
  facet?: string;
  facetTitle?: string;
  columns?: number;
  points?: boolean;
  logY?: boolean;
  /** d3 format of the y axis labels (e.g. '.4~f' for a metric in [0, 1]) */
  yFormat?: string;
}

/**
 * Series whose values coincide with an earlier series' everywhere get the label "<name> (same values as <earlier>)",
 * so the legend says why a line seems missing; shapes and dashes per series keep both visible.
 */
export function markCoincident(rows: Row[], series: string, keys: string[]): Row[] {
  const sig = new Map<unknown, string[]>();
  for (const r of rows) sig.set(r[series], [...(sig.get(r[series]) ?? []), JSON.stringify(keys.map((k) => r[k]))]);
  const rename = new Map<unknown, string>(),
    seen = new Map<string, unknown>();
  for (const [s, v] of sig) {
    const k = [...v].sort().join('|');
    if (seen.has(k)) rename.set(s, `${String(s)} (same values as ${String(seen.get(k))})`);
    else seen.set(k, s);
  }
  return rename.size ? rows.map((r) => (rename.has(r[series]) ? { ...r, [series]: rename.get(r[series]) } : r)) : rows;
}

/** A y scale that never collapses: equal values get a small range around them (no "0.437500" ticks). */
function yScaleFor(rows: Row[], fields: string[], log?: boolean): Record<string, unknown> {
  if (log) return { type: 'log' };
  const vals = rows
    .flatMap((r) => fields.map((f) => r[f]))
    .filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  const lo = Math.min(...vals),
    hi = Math.max(...vals);
  if (vals.length && hi - lo <= 1e-9 * Math.max(1, Math.abs(hi))) {
    const d = Math.max(Math.abs(hi) * 0.05, 0.01);
    return { zero: false, domain: [lo - d, hi + d] };
  }
  return { zero: false };
}

/** (c) Multi-series lines over an integer index, optionally one panel per facet value (e.g. layer). */
export function indexLines(o: IndexLinesOpts): VlSpec {
  let rows = rowsOf('indexLines', o.data);
  const ys = Array.isArray(o.y) ? o.y : [o.y];
  if (ys.length === 0) throw new Error('indexLines: y is an empty list');
  check('indexLines', rows, [o.x, ...ys, o.series, o.facet, o.lo, o.hi]);
  if (ys.length > 1 && (o.lo || o.hi)) throw new Error('indexLines: lo/hi band needs a single y field');
  if (o.series) rows = markCoincident(rows, o.series, [o.x, ...ys, ...(o.facet ? [o.facet] : [])]);
  const transform: unknown[] = [];
  let yField = ys[0];
  const enc: Record<string, unknown> = {};
  if (ys.length > 1) {
    transform.push({ fold: ys.map(fieldRef), as: ['_measure', '_value'] });
    yField = '_value';
    const m = { field: '_measure', type: 'nominal', title: o.measureTitle ?? 'value', sort: ys };
    if (o.series) {
      enc.strokeDash = m;
    } else {
      enc.color = { ...m, scale: { domain: ys, scheme: PALETTE } };
    }
  }
  if (o.series) {
    enc.color = colorEnc(o.series, o.seriesTitle, distinct(rows, o.series));
    // one dash pattern and point shape per series: coinciding lines stay visible (one legend: same field and title)
    if (ys.length === 1)
      enc.strokeDash = {
        field: fieldRef(o.series),
        type: 'nominal',
        title: o.seriesTitle ?? o.series,
        sort: distinct(rows, o.series),
      };
  }
  const nx = distinct(rows, o.x).length;
  const points = o.points ?? nx <= 40;
  // points at the first and last index are drawn whole: the x range is padded by a few pixels
  const x = {
    field: fieldRef(o.x),
    type: 'quantitative',
    title: o.xTitle ?? o.x,
    axis: { format: 'd', tickMinStep: 1 },
    scale: { zero: false, nice: false, ...(points ? { padding: 8 } : {}) },
  };
  const yTitle = o.yTitle ?? (ys.length === 1 ? ys[0] : 'value');
  const y = {
    field: fieldRef(yField),
    type: 'quantitative',
    title: yTitle,
    scale: yScaleFor(rows, ys, o.logY),
    ...(o.yFormat ? { axis: { format: o.yFormat } } : {}),
  };
  const layers: unknown[] = [];
  if (o.lo && o.hi) {
    layers.push({
      mark: { type: 'area', opacity: 0.18 },
      encoding: {
        x,
        y: { field: fieldRef(o.lo), type: 'quantitative', title: yTitle },
        y2: { field: fieldRef(o.hi) },
        ...(o.series ? { color: enc.color } : {}),
      },
    });
  }
  layers.push({ mark: { type: 'line', strokeWidth: 1.8 }, encoding: { x, y, ...enc } });
  if (points) {
    const shape = o.series
      ? {
          shape: {
            field: fieldRef(o.series),
            type: 'nominal',
            title: o.seriesTitle ?? o.series,
            sort: distinct(rows, o.series),
          },
        }
      : {};
    layers.push({
      mark: { type: 'point', filled: false, size: 45, strokeWidth: 1.5, opacity: 1 },
      encoding: { x, y, ...(enc.color ? { color: enc.color } : {}), ...shape },
    });
  }
  const facet = o.facet ? { field: o.facet, title: o.facetTitle, columns: o.columns } : undefined;
  return assemble(o, rows, transform, layers, facet);
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

// ---------------------------------------------------------------------------------------------------------------
export interface LossOpts extends CommonOpts {
  data: Rows;
  /** Step field (default 'step'). */
  x?: string;
  /** Wide data: the loss-term columns to plot. Long data: omit and give term + value. */
  terms?: string[];
  term?: string;
  value?: string;
  seriesTitle?: string;
  /** Log y scale; 'auto': only when the positive values span at least a factor of 10 (the y title then says so). */
  logY?: boolean | 'auto';
  /** Trailing moving average over this many points per term; the raw curve is drawn faint underneath. */
  smooth?: number;
}

/** (f) Loss curves over steps, one line per loss term; log scale drops values <= 0. */
export function lossCurves(o: LossOpts): VlSpec {
  const rows = rowsOf('lossCurves', o.data);
  const xf = o.x ?? 'step';
  const transform: unknown[] = [];
  let term: string, value: string, domain: unknown[];
  if (o.terms) {
    if (o.terms.length === 0) throw new Error('lossCurves: terms is an empty list');
    check('lossCurves', rows, [xf, ...o.terms]);
    transform.push({ fold: o.terms.map(fieldRef), as: ['_term', '_value'] });
    term = '_term';
    value = '_value';
    domain = o.terms;
  } else {
    if (!o.term || !o.value) throw new Error('lossCurves: give terms (wide data) or term + value (long data)');
    check('lossCurves', rows, [xf, o.term, o.value]);
    term = o.term;
    value = o.value;
    domain = distinct(rows, o.term);
  }
  let logY = o.logY === true;
  if (o.logY === 'auto') {
    const pos = rows
      .map((r) => r[value])
      .filter((v): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0);
    logY = pos.length > 1 && Math.max(...pos) / Math.min(...pos) >= 10;
  }
  const yTitle = `${o.yTitle ?? 'loss'}${o.logY === 'auto' && logY ? ' (log scale)' : ''}`;
  transform.push({ filter: logY ? `isFinite(${datum(value)}) && ${datum(value)} > 0` : `isFinite(${datum(value)})` });
  // steps are integers: integer ticks only
  const x = {
    field: fieldRef(xf),
    type: 'quantitative',
    title: o.xTitle ?? xf,
    scale: { zero: false, nice: false },
    axis: { format: 'd', tickMinStep: 1 },
  };
  // log: the domain is the data's (a nice log domain would stretch 1.2..1.6 to 1..10)
  const yScale = logY ? { type: 'log', nice: false } : { zero: false };
  const color = {
    color: {
      field: fieldRef(term),
      type: 'nominal',
      title: o.seriesTitle ?? 'loss term',
      scale: { domain, scheme: PALETTE },
    },
  };
  const layers: unknown[] = [];
  if (o.smooth && o.smooth > 1) {
    transform.push({
      window: [{ op: 'mean', field: fieldRef(value), as: '_smooth' }],
      frame: [-(Math.round(o.smooth) - 1), 0],
      groupby: [fieldRef(term)],
      sort: [{ field: fieldRef(xf) }],
    });
    layers.push({
      mark: { type: 'line', opacity: 0.25, strokeWidth: 1 },
      encoding: { x, y: { field: fieldRef(value), type: 'quantitative', scale: yScale, title: yTitle }, ...color },
    });
    layers.push({
      mark: { type: 'line', strokeWidth: 2 },
      encoding: { x, y: { field: '_smooth', type: 'quantitative', scale: yScale, title: yTitle }, ...color },
    });
  } else {
    layers.push({
      mark: { type: 'line', strokeWidth: 1.8 },
      encoding: { x, y: { field: fieldRef(value), type: 'quantitative', scale: yScale, title: yTitle }, ...color },
    });
  }
  return assemble(o, rows, transform, layers);
}

// ---------------------------------------------------------------------------------------------------------------
export interface ScatterOpts extends CommonOpts {
  data: Rows;
  x: string;
  y: string;
  /** Text next to each point (e.g. the model name). */
  label?: string;
  /** Colour category (legend). */
  series?: string;
  seriesTitle?: string;
  /** Shape category (second legend). */
  shape?: string;
  shapeTitle?: string;
  logX?: boolean;
  zeroX?: boolean;
  zeroY?: boolean;
}

/** (g) One point per row at (x, y), labelled and coloured by category (trade-off plots: metric vs size / latency). */
export function scatter(o: ScatterOpts): VlSpec {
  const rows = rowsOf('scatter', o.data);
  check('scatter', rows, [o.x, o.y, o.label, o.series, o.shape]);
  const x = {
    field: fieldRef(o.x),
    type: 'quantitative',
    title: o.xTitle ?? o.x,
    scale: o.logX ? { type: 'log' } : { zero: o.zeroX ?? true },
  };
  const y = { field: fieldRef(o.y), type: 'quantitative', title: o.yTitle ?? o.y, scale: { zero: o.zeroY ?? false } };
  const legend = { titleLimit: 400, labelLimit: 400 };
  const enc: Record<string, unknown> = {};
  if (o.series) enc.color = { ...colorEnc(o.series, o.seriesTitle, distinct(rows, o.series)), legend };
  if (o.shape)
    enc.shape = {
      field: fieldRef(o.shape),
      type: 'nominal',
      title: o.shapeTitle ?? o.shape,
      sort: distinct(rows, o.shape),
      legend,
    };
  const layers: unknown[] = [
    { mark: { type: 'point', filled: true, size: 110, opacity: 0.85 }, encoding: { x, y, ...enc } },
  ];
  if (o.label)
    layers.push({
      mark: { type: 'text', align: 'left', dx: 7, dy: -7, fontSize: 11 },
      encoding: { x, y, text: { field: fieldRef(o.label) } },
    });
  return assemble(o, rows, [], layers);
}

// ---------------------------------------------------------------------------------------------------------------
export interface DotWhiskerOpts extends CommonOpts {
  data: Rows;
  category: string;
  value: string;
  reference?: Reference | Reference[];
  /** d3 format of the mean printed beside each whisker (e.g. '.3f') */
  labelFormat?: string;
}

/**
 * (h) Per category: every row as a small grey dot (one per seed or example), the mean as a black tick and mean +-
 * sample std as a whisker; the y scale fits the data (no zero), so that differences of a few thousandths show.
 */
export function dotWhisker(o: DotWhiskerOpts): VlSpec {
  const rows = rowsOf('dotWhisker', o.data);
  check('dotWhisker', rows, [o.category, o.value]);
  const cats = distinct(rows, o.category);
  const x = {
    field: fieldRef(o.category),
    type: 'nominal',
    title: o.xTitle ?? o.category,
    sort: cats,
    axis: { labelAngle: 0, labelLimit: 0 },
  };
  const yTitle = o.yTitle ?? o.value;
  const s = spreadTransforms([o.category], o.value, 'std');
  const agg = { transform: s.transform };
  const layers: unknown[] = [
    {
      mark: { type: 'point', filled: true, size: 30, color: '#999', opacity: 0.8 },
      encoding: { x, y: { field: fieldRef(o.value), type: 'quantitative', title: yTitle, scale: { zero: false } } },
    },
    {
      ...agg,
      mark: { type: 'errorbar', ticks: { size: 10 }, color: '#222', thickness: 1.5 },
      encoding: { x, y: { field: s.lo, type: 'quantitative', title: yTitle }, y2: { field: s.hi } },
    },
    {
      ...agg,
      mark: { type: 'tick', color: '#1f5fa8', thickness: 3, size: 26 },
      encoding: { x, y: { field: s.mean, type: 'quantitative', title: yTitle } },
    },
  ];
  if (o.labelFormat)
    layers.push({
      ...agg,
      mark: { type: 'text', align: 'left', dx: 16, fontSize: 11, color: '#1f5fa8' },
      encoding: {
        x,
        y: { field: s.mean, type: 'quantitative' },
        text: { field: s.mean, type: 'quantitative', format: o.labelFormat },
      },
    });
  layers.push(...referenceLayers(o.reference));
  return assemble(o, rows, [], layers);
}
