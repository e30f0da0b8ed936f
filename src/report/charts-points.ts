/**
 * Vega-lite spec builders for points (plain functions returning spec objects; render them with render.ts renderPlot).
 * Every builder checks that the named fields exist and throws naming the field.
 *
 * - scatter: one labelled point per row (e.g. metric vs model size), coloured by a category
 * - dotWhisker: one point per row with its interval, dashed reference rule(s)
 */
import {
  type Rows,
  type CommonOpts,
  type Reference,
  fieldRef,
  rowsOf,
  check,
  distinct,
  assemble,
  spreadTransforms,
  referenceLayers,
  colorEnc,
} from './charts-common.js';
import type { VlSpec } from './render.js';

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
