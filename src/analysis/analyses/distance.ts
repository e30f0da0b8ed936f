/**
 * Attention-map distances (docs/method.md §7a, Figure 4): per head, the ranking loss, cover length ratio and row KL
 * of each model's attention maps against the teacher's, mean and std over the examples.
 */
import { headDistances, type HeadDistances } from '../distance.js';
import { GridStat } from '../grid-stat.js';
import { CONFIG, labelOf, labelsOf, mean, modelScale, SCHEMA } from '../plot-style.js';
import type { AnalysisMeta, ForwardAnalysis, Spec, Stat } from '../types.js';

export interface DistanceSettings {
  /** compare also the teacher's weights quantized without QAT (a model loaded beside the students) */
  quantizedTeacher: boolean;
}

export interface DistanceResult {
  examples: number;
  models: Record<string, Record<keyof HeadDistances, Stat>>;
  perExample: Record<string, HeadDistances[]>;
}

type Metric = keyof HeadDistances;
const METRICS: Metric[] = ['rankingLoss', 'coverLengthRatio', 'rowKl'];

const METRIC_TITLES: Record<Metric, string> = {
  rankingLoss: 'Ranking loss (sum)',
  coverLengthRatio: 'Cover length ratio (top-5)',
  rowKl: 'Row KL (map loss per head)',
};

/** Figure 4: one line per student over head index (layer * H + head), mean over examples with a +-1 std band. */
function distanceSpec(d0: DistanceResult, meta: AnalysisMeta, metric: Metric): Spec {
  const rows: Record<string, unknown>[] = [];
  for (const [id, d] of Object.entries(d0.models)) {
    const label = labelOf(meta, id);
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
  const n = d0.examples;
  const scale = modelScale(meta, labelsOf(rows));
  const band = n > 1 ? ', band = +-1 std (clipped at 0)' : '';
  return {
    $schema: SCHEMA,
    ...CONFIG,
    width: 640,
    height: 260,
    title: {
      text: `${METRIC_TITLES[metric]} vs teacher, per head`,
      subtitle: `${meta.task}: mean over ${n} dev example${n === 1 ? '' : 's'}${band}`,
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

export const distance: ForwardAnalysis<'distance', DistanceSettings, DistanceResult> = {
  name: 'distance',
  kind: 'forward',
  settings: [
    {
      key: 'quantizedTeacher',
      flag: 'no-quantized',
      field: { kind: 'bool', flagMeans: false },
      help: 'leave out the "quantized teacher, no QAT" model of the distance experiment',
      default: true,
    },
  ],
  reads: () => true,
  start(ctx) {
    const stats = new Map<string, Record<Metric, GridStat>>();
    const perExample: Record<string, HeadDistances[]> = {};
    const others = ctx.models.filter((m) => m.role !== 'teacher');
    return {
      async add(_k, e, outs) {
        const T = outs.get(ctx.teacher.id)!;
        for (const m of others) {
          const d = await headDistances(outs.get(m.id)!.probs, T.probs, 0, e.ids.length);
          if (!stats.has(m.id))
            stats.set(m.id, { rankingLoss: new GridStat(), coverLengthRatio: new GridStat(), rowKl: new GridStat() });
          const st = stats.get(m.id)!;
          for (const k of METRICS) st[k].add(d[k]);
          (perExample[m.id] ??= []).push(d);
        }
      },
      finish() {
        const models: DistanceResult['models'] = {};
        for (const [id, st] of stats)
          models[id] = {
            rankingLoss: st.rankingLoss.stat(),
            coverLengthRatio: st.coverLengthRatio.stat(),
            rowKl: st.rowKl.stat(),
          };
        return { examples: ctx.examples.length, models, perExample };
      },
    };
  },
  specs: (r, meta) => ({
    'distance-ranking-loss': distanceSpec(r, meta, 'rankingLoss'),
    'distance-cover-length': distanceSpec(r, meta, 'coverLengthRatio'),
    'distance-row-kl': distanceSpec(r, meta, 'rowKl'),
  }),
  captions: {
    'distance-ranking-loss': [
      'Attention-map distance: ranking loss (Figure 4)',
      'Per head, summed over query rows and key pairs: how often the student orders two keys differently from the ' +
        "teacher, weighted by the student's probability gap. Lower = closer to the teacher. A sum over n^3 terms: it " +
        'grows with the sequence length, hence the wide band over examples of different lengths.',
    ],
    'distance-cover-length': [
      'Attention-map distance: cover length ratio (Figure 4)',
      "Per head: how far down the student's ranking the teacher's top-5 keys reach, averaged over rows and divided " +
        "by n. Lower = the student covers the teacher's top keys earlier.",
    ],
    'distance-row-kl': [
      'Attention-map distance: row KL',
      'Per head: the map loss (teacher || student KL summed over rows, divided by n).',
    ],
  },
  tables: (r, label) => [
    {
      kind: 'table',
      title: 'Attention-map distance: mean over heads',
      digits: 4,
      table: Object.entries(r.models).map(([id, d]) => ({
        model: label(id),
        'ranking loss': mean(d.rankingLoss.mean.flat()),
        'cover length ratio': mean(d.coverLengthRatio.mean.flat()),
        'row KL': mean(d.rowKl.mean.flat()),
      })),
    },
  ],
};
