/**
 * What every analysis figure shares: the vega-lite schema and fonts, one colour per model across a report's figures,
 * the page width the figures fit in.
 */
import type { AnalysisMeta } from './types.js';

export const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';
const FONT = { font: 'DejaVu Sans' };
export const CONFIG = {
  config: {
    ...FONT,
    view: { stroke: '#ddd' },
    axis: { labelFont: FONT.font, titleFont: FONT.font },
    legend: { labelFont: FONT.font, titleFont: FONT.font, symbolOpacity: 1, labelLimit: 0 },
    header: { labelFont: FONT.font, titleFont: FONT.font },
    title: { font: FONT.font },
  },
};

/** Colours of the models other than the teacher (grey), in the order of meta.models. */
const MODEL_COLOURS = ['#1f77b4', '#ff7f0e', '#d62728', '#2ca02c', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

/**
 * One colour per model in every figure of a report (the teacher grey, the others in meta order), with the legend
 * listing only the models of this figure.
 */
export function modelScale(meta: AnalysisMeta, present: Iterable<unknown>): { domain: string[]; range: string[] } {
  const has = new Set(present);
  let k = 0;
  const all = meta.models.map((m) => ({
    label: m.label,
    colour: m.role === 'teacher' ? '#7f7f7f' : MODEL_COLOURS[k++ % MODEL_COLOURS.length],
  }));
  const shown = all.filter((m) => has.has(m.label));
  return { domain: shown.map((m) => m.label), range: shown.map((m) => m.colour) };
}
export const labelsOf = (rows: Record<string, unknown>[]) => rows.map((x) => x.model);
/** About the width in px of a legend of these labels (12 px font: ~7 px per character, plus the symbol). */
export const legendWidth = (labels: string[]) => 30 + 7 * Math.max(0, ...labels.map((l) => l.length));
/** The report page's content is 1086 px wide: a figure's plot area, axes and legend stay within ~1000 px. */
export const PAGE = 1000;
/** a model's legend label by id */
export const labelOf = (meta: AnalysisMeta, id: string) => meta.models.find((m) => m.id === id)?.label ?? id;
export const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
