/**
 * What the vega-lite spec builders (charts-lines.ts, charts-dist.ts, charts-points.ts) share: the option types, the
 * house size, fonts and palette, field escaping, the row checks that throw naming the missing field, the title and
 * the spec assembly, the seed-spread transforms, dashed reference rules, the colour encoding and a y scale that
 * never collapses.
 * Data is inlined: rows (array of objects) or an arquero table. Field names are escaped for vega-lite, so names with
 * dots (e.g. "loss.kd") are fine.
 */
import type { ColumnTable } from 'arquero';
import type { VlSpec } from './render.js';

export type Row = Record<string, unknown>;
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

export const W = 480,
  H = 300;
export const CONFIG = {
  title: { fontSize: 16, subtitleFontSize: 12, subtitleColor: '#555', anchor: 'start', offset: 10 },
  axis: { labelFontSize: 12, titleFontSize: 13, titlePadding: 8 },
  legend: { labelFontSize: 12, titleFontSize: 12, labelLimit: 0, symbolOpacity: 1 },
  header: { labelFontSize: 13, titleFontSize: 13 },
};
export const PALETTE = 'tableau10';

/** Escape a field name for vega-lite field references ('.' and '[' ']' are path syntax). */
export function fieldRef(name: string): string {
  return name.replace(/([.[\]\\])/g, '\\$1');
}
/** A vega expression reading field `name` of the current datum. */
export const datum = (name: string) => `datum[${JSON.stringify(name)}]`;

export function rowsOf(fn: string, data: Rows): Row[] {
  const rows = Array.isArray(data) ? [...(data as readonly Row[])] : ((data as ColumnTable).objects() as Row[]);
  if (rows.length === 0) throw new Error(`${fn}: no data rows`);
  return rows;
}

export function check(fn: string, rows: Row[], fields: (string | undefined)[]): void {
  for (const f of fields) {
    if (f === undefined) continue;
    if (!rows.some((r) => f in r))
      throw new Error(`${fn}: field "${f}" not in data (columns: ${Object.keys(rows[0]).join(', ')})`);
  }
}

/** Distinct values of `field` in first-appearance order (to keep the caller's order in axes and legends). */
export function distinct(rows: Row[], field: string): unknown[] {
  const seen = new Set<unknown>();
  for (const r of rows) if (r[field] !== undefined && r[field] !== null) seen.add(r[field]);
  return [...seen];
}

export function titleOf(o: CommonOpts): Record<string, unknown> {
  return o.subtitle ? { text: o.title, subtitle: o.subtitle } : { text: o.title };
}

/**
 * Top-level spec: a layered unit chart, or a facet (wrapping `columns` panels) over `facet` when given.
 * `extra` goes to the top level (e.g. resolve).
 */
export function assemble(
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
export function spreadTransforms(
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

export function referenceLayers(refs: Reference | Reference[] | undefined): unknown[] {
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

export const colorEnc = (field: string, title: string | undefined, domain: unknown[]) => ({
  field: fieldRef(field),
  type: 'nominal',
  title: title ?? field,
  scale: { domain, scheme: PALETTE },
});

/** A y scale that never collapses: equal values get a small range around them (no "0.437500" ticks). */
export function yScaleFor(rows: Row[], fields: string[], log?: boolean): Record<string, unknown> {
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
