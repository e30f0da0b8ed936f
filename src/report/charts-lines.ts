/**
 * Vega-lite spec builders for lines (plain functions returning spec objects; render them with render.ts renderPlot).
 * Every builder checks that the named fields exist and throws naming the field.
 *
 * - lineBand: metric vs coefficient, one line per series, band/bars = seed spread (min-max or ±std)
 * - indexLines: values over an integer index (head, token), series per model, optional facets (e.g. layer)
 * - lossCurves: loss terms over steps, optional log scale and smoothing
 */
import {
  type Row,
  type Rows,
  type Spread,
  type CommonOpts,
  type Reference,
  PALETTE,
  fieldRef,
  datum,
  rowsOf,
  check,
  distinct,
  assemble,
  spreadTransforms,
  referenceLayers,
  colorEnc,
  yScaleFor,
} from './charts-common.js';
import type { VlSpec } from './render.js';

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
