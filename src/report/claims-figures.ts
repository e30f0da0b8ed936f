/**
 * The paper-style figures of a claims study, as vega-lite specs: the presets' best dev metric with seed whiskers
 * (teacher and post-training-quantization floor as reference lines), the mixing curves, and the analyses' three
 * measures per student with their spread over the analysed examples.
 */
import type { Reference } from './charts-common.js';
import { lineBand } from './charts-lines.js';
import { dotWhisker } from './charts-points.js';
import { isPresetRun, PRESETS, type StudyData } from './claims.js';
import type { VlSpec } from './render.js';

const upper = (m: string) => m.toUpperCase();

/** Bars: each preset's mean best dev metric over seeds, whiskers mean +- sd, FP teacher and PTQ floor as lines. */
export function presetsSpec(d: StudyData): VlSpec | null {
  const rows = d.runs.filter(isPresetRun).map((r) => ({ preset: r.preset, seed: r.seed, best: r.best }));
  if (!rows.length) return null;
  const seeds = new Set(rows.map((r) => r.seed)).size;
  const refs: Reference[] = [{ value: d.teacher, label: `FP teacher ${d.teacher.toFixed(3)}`, color: '#444' }];
  if (d.floor !== null) refs.push({ value: d.floor, label: `ternary PTQ ${d.floor.toFixed(3)}`, color: '#c44' });
  return dotWhisker({
    title: `${d.task}: best dev ${upper(d.metric)} per KD preset`,
    subtitle:
      `dots: the ${seeds} seeds; tick and whisker: mean +- sample ` +
      `std${d.reduced ? '; reduced recipe' : ''}` +
      `${d.majority !== null ? `; majority class ${d.majority.toFixed(3)}` : ''}`,
    data: [...rows].sort(
      (a, b) =>
        PRESETS.indexOf(a.preset as (typeof PRESETS)[number]) - PRESETS.indexOf(b.preset as (typeof PRESETS)[number]),
    ),
    category: 'preset',
    value: 'best',
    xTitle: 'KD preset',
    yTitle: `best dev ${upper(d.metric)}`,
    labelFormat: '.4f',
    reference: refs,
    width: 420,
  });
}

/**
 * Lines: best dev metric against the mixing coefficient a of L_map + a L_out and a L_map + L_out (seed 42; a = 1 is the
 * map+output preset).
 */
export function mixingSpec(d: StudyData): VlSpec | null {
  const s42 = d.runs.filter((r) => r.seed === 42 && r.preset === 'map+output');
  const rows = [
    ...s42.filter((r) => r.map === 1).map((r) => ({ arm: 'L_map + a L_out', a: r.output, best: r.best })),
    ...s42.filter((r) => r.output === 1).map((r) => ({ arm: 'a L_map + L_out', a: r.map, best: r.best })),
  ];
  if (rows.length < 3) return null;
  const single = (p: string) => d.runs.find((r) => r.seed === 42 && r.preset === p)?.best;
  const refs: Reference[] = [{ value: d.teacher, label: 'FP teacher', color: '#444' }];
  for (const [p, color] of [
    ['map', '#59a14f'],
    ['output', '#e15759'],
  ] as const) {
    const v = single(p);
    if (v !== undefined) refs.push({ value: v, label: `${p} alone`, color });
  }
  return lineBand({
    title: `${d.task}: mixing the map and output losses`,
    subtitle: "seed 42 only: one seed does not resolve these differences (see the presets' spread)",
    data: rows,
    x: 'a',
    y: 'best',
    series: 'arm',
    seriesTitle: 'loss',
    spread: 'none',
    xTitle: 'coefficient a',
    yTitle: `best dev ${upper(d.metric)}`,
    reference: refs,
    width: 420,
  });
}

/** Bars per student (and the teacher for the Hessian) of one analysis measure: mean over examples, whiskers +- sd. */
function measureSpec(
  d: StudyData,
  per: Record<string, number[]>,
  what: string,
  axis: string,
  subtitle: string,
  withTeacher = false,
): VlSpec | null {
  const a = d.analysis;
  if (!a) return null;
  const label = (id: string) => a.presets[id] ?? id;
  const ids = [...(withTeacher && per.teacher ? ['teacher'] : []), ...Object.keys(a.presets).filter((id) => per[id])];
  const rows = ids.flatMap((id) => per[id].map((v) => ({ model: label(id), value: v })));
  if (!rows.length) return null;
  return dotWhisker({
    title: `${d.task}: ${what}`,
    subtitle,
    data: rows,
    category: 'model',
    value: 'value',
    xTitle: '',
    yTitle: axis,
    labelFormat: '.3g',
    width: 480,
    height: 300,
  });
}

export function analysisSpecs(d: StudyData): Record<string, VlSpec> {
  const a = d.analysis;
  if (!a) return {};
  const n = `dots: ${a.examples} dev examples; tick and whisker: mean +- sd; seed-42 students`;
  const specs: Record<string, VlSpec | null> = {
    'ranking-loss': measureSpec(
      d,
      a.rankingLoss,
      'attention-map ranking loss to the teacher',
      'ranking loss',
      `${n}; lower = closer`,
    ),
    'cover-length': measureSpec(
      d,
      a.coverLength,
      'cover-length ratio to the teacher',
      'cover-length ratio',
      `${n}; lower = closer`,
    ),
    'range-error': measureSpec(
      d,
      a.rangeError,
      'attention-output range error',
      'range error',
      `|min - teacher's| and |max - teacher's|, mean over layers; ${n}`,
    ),
    'top-eigenvalue': measureSpec(
      d,
      a.topEigen,
      'top |Hessian eigenvalue|',
      'top |eigenvalue|',
      `dots: ${a.hessianExamples} dev examples; tick and whisker: mean +- sd`,
      true,
    ),
  };
  return Object.fromEntries(Object.entries(specs).filter((e): e is [string, VlSpec] => e[1] !== null));
}
