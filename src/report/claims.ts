/**
 * The paper's six claims, tested on the runs and analyses of a study per task: what was measured (means and sample
 * standard deviations over seeds, or over analysed examples), the effect (difference of means over the pooled
 * standard deviation) and a verdict. A difference whose 95% interval contains 0 is not resolved; a verdict is never
 * stronger than its weakest comparison.
 */
import { compareGroups, comparePaired, mean, sd, type Difference } from './stats.js';

export const PRESETS = ['ternarybert', 'map', 'output', 'map+output'] as const;
export type Verdict = 'consistent' | 'not consistent' | 'not resolved at this scale';

/** One KD-QAT run as the claims need it. */
export interface ClaimRun {
  run: string;
  preset: string;
  seed: number;
  map: number;
  output: number;
  best: number;
  last: number;
}

/** What an analysis of the seed-42 students measured, per model id, per analysed example. */
export interface ClaimAnalysis {
  /** student id -> preset */
  presets: Record<string, string>;
  examples: number;
  /** per student: ranking loss and cover-length ratio to the teacher's maps, each the mean over layers and heads */
  rankingLoss: Record<string, number[]>;
  coverLength: Record<string, number[]>;
  /** per student: the mean over layers of |min - teacher's min| and |max - teacher's max| of the attention output */
  rangeError: Record<string, number[]>;
  /** per model (teacher too): the largest |eigenvalue| of each Hessian example's spectrum */
  topEigen: Record<string, number[]>;
  hessianExamples: number;
  /**
   * students whose analysed weights no evaluation scored (runs made before the best weights were kept: their final
   * weights)
   */
  unscored: string[];
}

export interface StudyData {
  study: string;
  task: string;
  metric: string;
  /** FP teacher's best dev metric; its ternary post-training quantization's; predicting the majority class's */
  teacher: number;
  floor: number | null;
  majority: number | null;
  reduced: string | null;
  runs: ClaimRun[];
  analysis: ClaimAnalysis | null;
}

export interface Stat {
  mean: number;
  sd: number;
  n: number;
  values: number[];
}
export interface Comparison extends Difference {
  a: string;
  b: string;
  what: string;
}
export interface ClaimCell {
  verdict: Verdict;
  measured: string;
  comparisons: Comparison[];
}
export interface Claim {
  id: number;
  text: string;
  tasks: Record<string, ClaimCell>;
}

export const CLAIMS: [number, string][] = [
  [
    1,
    'the attention-score MSE of TernaryBERT does not recover the self-attention information: map and output losses ' +
      'do better',
  ],
  [2, 'the preference between attention-map and attention-output loss depends on the task'],
  [3, 'mixing both losses (L_map + a L_out, a L_map + L_out) reconciles that preference'],
  [4, "attention-map KD brings the students' attention maps closer to the teacher's (ranking loss, cover length)"],
  [5, "attention-output KD keeps the attention output's dynamic range close to the teacher's"],
  [6, "the students' loss surfaces differ by KD method (top Hessian eigenvalues)"],
];

export const stat = (values: number[]): Stat => ({ mean: mean(values), sd: sd(values), n: values.length, values });

/** A run of one of the four presets with the preset's own coefficients (a mixing arm is not the map+output preset). */
export const isPresetRun = (r: ClaimRun): boolean =>
  PRESETS.includes(r.preset as (typeof PRESETS)[number]) &&
  (r.preset !== 'map+output' || (r.map === 1 && r.output === 1));

/** Best dev metric per seed of a preset's runs (see isPresetRun). */
export function presetStats(d: StudyData): Record<string, Stat> {
  const out: Record<string, Stat> = {};
  for (const p of PRESETS) {
    const xs = d.runs
      .filter((r) => r.preset === p && isPresetRun(r))
      .sort((a, b) => a.seed - b.seed)
      .map((r) => r.best);
    if (xs.length) out[p] = stat(xs);
  }
  return out;
}

const f = (x: number, digits = 4) => (Number.isFinite(x) ? x.toFixed(digits) : '-');
const show = (c: Comparison, digits = 4) =>
  `${c.a} - ${c.b} = ${f(c.diff, digits)} [${f(c.ci[0], digits)}, ${f(c.ci[1], digits)}], d = ` +
  `${Number.isFinite(c.effect) ? c.effect.toFixed(2) : c.effect > 0 ? '+inf' : '-inf'}` +
  `${c.resolved ? '' : ' (not resolved)'}`;

function groups(s: Record<string, Stat>, a: string, b: string, what: string): Comparison | null {
  return s[a] && s[b] ? { ...compareGroups(s[a].values, s[b].values), a, b, what } : null;
}

function paired(
  per: Record<string, number[]>,
  ids: Record<string, string>,
  a: string,
  b: string,
  what: string,
  level = 0.95,
): Comparison | null {
  const ia = ids[a],
    ib = ids[b];
  return ia && ib && per[ia] && per[ib] ? { ...comparePaired(per[ia], per[ib], level), a, b, what } : null;
}

/**
 * consistent when every comparison is resolved in the claimed direction (sign > 0), not consistent when any is resolved
 * against it.
 */
function direction(cs: (Comparison | null)[], sign: 1 | -1): Verdict {
  const ok = cs.filter((c): c is Comparison => c !== null);
  if (!ok.length) return 'not resolved at this scale';
  if (ok.some((c) => c.resolved && Math.sign(c.diff) === -sign)) return 'not consistent';
  return ok.every((c) => c.resolved && Math.sign(c.diff) === sign) ? 'consistent' : 'not resolved at this scale';
}

const cell = (verdict: Verdict, cs: (Comparison | null)[], measured: string[] = [], digits = 4): ClaimCell => {
  const comparisons = cs.filter((c): c is Comparison => c !== null);
  return {
    verdict,
    comparisons,
    measured: [...measured, ...comparisons.map((c) => `${c.what}: ${show(c, digits)}`)].join('; ') || 'not measured',
  };
};

/** The preferred one of map and output on a task: +1 map, -1 output, 0 not resolved. */
const preference = (c: Comparison | null) => (c?.resolved ? Math.sign(c.diff) : 0);

/** The six claims over the studies (one per task). */
export function testClaims(studies: StudyData[]): Claim[] {
  const perTask = studies.map((d) => {
    const s = presetStats(d);
    const ids = Object.fromEntries(Object.entries(d.analysis?.presets ?? {}).map(([id, p]) => [p, id]));
    return { d, s, ids, mapVsOut: groups(s, 'map', 'output', `${d.metric}: map vs output`) };
  });
  const prefs = perTask.map((t) => preference(t.mapVsOut));
  const claim2: Verdict = prefs.every((p) => p !== 0)
    ? new Set(prefs).size > 1
      ? 'consistent'
      : 'not consistent'
    : 'not resolved at this scale';
  const cells = (id: number): Record<string, ClaimCell> =>
    Object.fromEntries(
      perTask.map(({ d, s, ids, mapVsOut }) => {
        const a = d.analysis,
          m = d.metric;
        switch (id) {
          case 1: {
            const cs = [
              groups(s, 'map', 'ternarybert', `${m}: map vs TernaryBERT`),
              groups(s, 'output', 'ternarybert', `${m}: output vs TernaryBERT`),
            ];
            return [d.task, cell(direction(cs, 1), cs)];
          }
          case 2: {
            const p = preference(mapVsOut);
            return [
              d.task,
              cell(claim2, [mapVsOut], [`prefers ${p > 0 ? 'map' : p < 0 ? 'output' : 'neither (not resolved)'}`]),
            ];
          }
          case 3: {
            const better = s.map && s.output ? (s.map.mean >= s.output.mean ? 'map' : 'output') : null;
            if (!better) return [d.task, cell('not resolved at this scale', [])];
            const worse = better === 'map' ? 'output' : 'map';
            const vsBetter = groups(s, 'map+output', better, `${m}: map+output vs the better (${better})`);
            const vsWorse = groups(s, 'map+output', worse, `${m}: map+output vs the worse (${worse})`);
            const verdict: Verdict =
              preference(mapVsOut) === 0
                ? 'not resolved at this scale'
                : vsBetter?.resolved && vsBetter.diff < 0
                  ? 'not consistent'
                  : vsWorse?.resolved && vsWorse.diff > 0
                    ? 'consistent'
                    : 'not resolved at this scale';
            return [
              d.task,
              cell(
                verdict,
                [vsBetter, vsWorse],
                preference(mapVsOut) === 0
                  ? ['map and output are not resolved apart, so there is no preference to reconcile']
                  : [],
              ),
            ];
          }
          case 4: {
            if (!a) return [d.task, cell('not resolved at this scale', [], ['no analysis'])];
            const cs = [
              paired(a.rankingLoss, ids, 'ternarybert', 'map', 'ranking loss: TernaryBERT vs map'),
              paired(a.coverLength, ids, 'ternarybert', 'map', 'cover length: TernaryBERT vs map'),
              paired(a.rankingLoss, ids, 'output', 'map', 'ranking loss: output vs map'),
            ];
            return [d.task, cell(direction(cs, 1), cs, [`over ${a.examples} dev examples (seed-42 students)`])];
          }
          case 5: {
            if (!a) return [d.task, cell('not resolved at this scale', [], ['no analysis'])];
            const cs = [
              paired(a.rangeError, ids, 'ternarybert', 'output', 'range error: TernaryBERT vs output'),
              paired(a.rangeError, ids, 'map', 'output', 'range error: map vs output'),
            ];
            return [d.task, cell(direction(cs, 1), cs, [`over ${a.examples} dev examples (seed-42 students)`])];
          }
          default: {
            if (!a) return [d.task, cell('not resolved at this scale', [], ['no analysis'])];
            const ps = PRESETS.filter((p) => ids[p] && a.topEigen[ids[p]]);
            // every pair is tested, so each interval is widened to keep 95% for the family (Bonferroni)
            const pairs = (ps.length * (ps.length - 1)) / 2;
            const cs = ps.flatMap((p, i) =>
              ps
                .slice(i + 1)
                .map((q) => paired(a.topEigen, ids, p, q, `top |eigenvalue|: ${p} vs ${q}`, 1 - 0.05 / pairs)),
            );
            const ok = cs.filter((c): c is Comparison => c !== null);
            const verdict: Verdict = ok.some((c) => c.resolved) ? 'consistent' : 'not resolved at this scale';
            const means = ps.map((p) => `${p} ${f(mean(a.topEigen[ids[p]]), 2)} (sd ${f(sd(a.topEigen[ids[p]]), 2)})`);
            return [
              d.task,
              cell(
                verdict,
                cs,
                [
                  `top |eigenvalue| over ${a.hessianExamples} examples: ${means.join(', ')}; intervals at ` +
                    `${(100 - 5 / pairs).toFixed(2)}% each (Bonferroni over ${pairs} pairs)`,
                ],
                2,
              ),
            ];
          }
        }
      }),
    );
  return CLAIMS.map(([id, text]) => ({ id, text, tasks: cells(id) }));
}
