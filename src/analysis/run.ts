/**
 * The analysis driver behind `npm run analyze`: runs the selected experiments (docs/method.md §7a-7d) over dev examples,
 * one example at a time (batch 1, sliced to its seq_length as the reference's notebooks do), and returns plain
 * JSON-able results. Models: the FP teacher, the students (with their quantizers), and for the distance
 * experiment also "quantized" = the teacher's weights in the quantized model without QAT (the notebook's student_Q).
 */
import * as tf from '@tensorflow/tfjs';
import { bertForward, type Batch, type BertOutputs, type Params } from '../model/bert.js';
import type { BertConfig } from '../model/config.js';
import type { QuantConfig } from '../quant/plan.js';
import type { StudentScore } from '../distill/students.js';
import { FrozenWeightQuant } from './frozen-quant.js';
import { headDistances, type HeadDistances } from './distance.js';
import { attentionOutputRange } from './range.js';
import {
  exampleNorms,
  firstIndexOf,
  TOKEN_CLASSES,
  type ExampleNorms,
  type TokenClass,
  type TokenClassIds,
} from './norm-analysis.js';
import {
  AnalysisStopped,
  runHessian,
  type HessianResults,
  type HessianRow,
  type HessianSettings,
} from './run-hessian.js';
export { AnalysisStopped } from './run-hessian.js';

export const EXPERIMENTS = ['distance', 'hessian', 'range', 'norms'] as const;
export type Experiment = (typeof EXPERIMENTS)[number];

export interface AnalysisModel {
  id: string;
  label: string;
  role: 'teacher' | 'student' | 'quantized';
  params: Params;
  config: BertConfig;
  /** quantizers of a student / the quantized teacher; undefined for the FP teacher */
  quant?: QuantConfig;
  dir?: string;
  /** a KD-QAT student's recorded evaluation in its run (docs/students.md); null when unscored */
  score?: StudentScore | null;
}

export interface AnalysisExample {
  index: number;
  ids: Int32Array;
  tokenTypes: Int32Array;
  label: number;
}

export type { HessianSettings } from './run-hessian.js';

export interface AnalysisOptions {
  task: string;
  experiments: Experiment[];
  /** 'zeros': token_type_ids all 0 as the notebooks (quirk); 'real': the features' segment ids */
  tokenTypes: 'zeros' | 'real';
  norms: { wo: 'latent' | 'quantized'; token: 'sep' | number; classIds: TokenClassIds };
  /** position in `examples` of the example the range figure shows */
  rangeExample: number;
  hessian: HessianSettings;
  log?: (s: string) => void;
  onProgress?: (done: number, total: number, what: string) => void;
  /** parts finished by an interrupted run of the same settings (see PartialResults) */
  resume?: PartialResults;
  /** called with everything finished so far, after the forward experiments and after each Hessian spectrum */
  onPartial?: (p: PartialResults) => void;
  /** checked between examples and between spectra: true stops with AnalysisStopped (finished parts reported by onPartial) */
  shouldStop?: () => boolean;
  /** the long parts' plan, said before they start: what remains of them */
  onPlan?: (
    what: 'forward' | 'hessian',
    remaining: number,
    total: number,
    maxProducts?: number,
    secondsPerProduct?: number,
  ) => void;
}

/** What an interrupted analysis keeps: the forward experiments (all or none) and the Hessian spectra computed. */
export interface PartialResults {
  forward?: Pick<AnalysisResults, 'distance' | 'range' | 'norms'> & { seconds: Record<string, number> };
  hessian?: Record<string, HessianRow[]>;
}

type Stat = { mean: number[][]; std: number[][] };
export interface AnalysisResults {
  meta: {
    task: string;
    models: { id: string; label: string; role: string; dir?: string; score?: StudentScore | null }[];
    examples: number[];
    tokenTypes: string;
    seconds: Record<string, number>;
  };
  distance?: {
    examples: number;
    models: Record<string, Record<keyof HeadDistances, Stat>>;
    perExample: Record<string, HeadDistances[]>;
  };
  range?: {
    exampleIndex: number;
    tokens: number[];
    models: Record<string, { min: number[][]; max: number[][] }>;
    meanRange: Record<string, { min: number[]; max: number[] }>;
    /** per model, per analysed example: each layer's min and max averaged over the example's tokens ([L] each) */
    perExample: Record<string, { min: number[]; max: number[] }[]>;
  };
  norms?: {
    token: 'sep' | number;
    wo: string;
    examplesUsed: number;
    heads: Record<string, { prob: number[][]; fx: number[][]; afx: number[][] }>;
    headDiffs: Record<string, { prob: number[][]; fx: number[][]; afx: number[][] }>;
    classDiffs: Record<
      string,
      Record<TokenClass, { alpha: (number | null)[]; fx: (number | null)[]; sumAfx: (number | null)[] }>
    >;
  };
  hessian?: HessianResults;
}

/** running mean/std of [L][H] grids (float64) */
class GridStat {
  n = 0;
  private s: number[][] = [];
  private q: number[][] = [];
  add(g: number[][]): void {
    if (!this.n) {
      this.s = g.map((r) => r.map(() => 0));
      this.q = g.map((r) => r.map(() => 0));
    }
    g.forEach((r, i) =>
      r.forEach((v, j) => {
        this.s[i][j] += v;
        this.q[i][j] += v * v;
      }),
    );
    this.n++;
  }
  stat(): Stat {
    const mean = this.s.map((r) => r.map((v) => v / this.n));
    return { mean, std: this.q.map((r, i) => r.map((v, j) => Math.sqrt(Math.max(0, v / this.n - mean[i][j] ** 2)))) };
  }
}

/** [1,n] batch of one example: ids, token types (zeros or real), attention mask all ones */
function exampleBatch(e: AnalysisExample, tokenTypes: 'zeros' | 'real'): Batch {
  const n = e.ids.length;
  return {
    inputIds: tf.tensor2d(e.ids, [1, n], 'int32'),
    tokenTypeIds:
      tokenTypes === 'real' ? tf.tensor2d(e.tokenTypes, [1, n], 'int32') : (tf.zeros([1, n], 'int32') as tf.Tensor2D),
    attentionMask: tf.ones([1, n], 'int32') as tf.Tensor2D,
  };
}

const disposeBatch = (b: Batch) => tf.dispose([b.inputIds, b.tokenTypeIds, b.attentionMask]);

function forward(
  m: AnalysisModel,
  fq: FrozenWeightQuant | undefined,
  b: Batch,
  norms?: 'latent' | 'quantized',
): BertOutputs {
  return tf.tidy(
    () => bertForward(m.params, m.config, b, { quant: fq?.hooks(), norms }) as unknown as tf.TensorContainer,
  ) as unknown as BertOutputs;
}

export async function runAnalysis(
  models: AnalysisModel[],
  examples: AnalysisExample[],
  o: AnalysisOptions,
): Promise<AnalysisResults> {
  const log = o.log ?? (() => {});
  const teacher = models.find((m) => m.role === 'teacher');
  if (!teacher) throw new Error('runAnalysis: no teacher model');
  const students = models.filter((m) => m.role === 'student');
  const exps = new Set(o.experiments);
  const res: AnalysisResults = {
    meta: {
      task: o.task,
      models: models.map(({ id, label, role, dir, score }) => ({
        id,
        label,
        role,
        dir,
        ...(role === 'student' ? { score: score ?? null } : {}),
      })),
      examples: examples.map((e) => e.index),
      tokenTypes: o.tokenTypes,
      seconds: {},
    },
  };
  const secs = res.meta.seconds;
  const timed = async <T>(k: string, f: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    try {
      return await f();
    } finally {
      secs[k] = (secs[k] ?? 0) + (performance.now() - t0) / 1000;
    }
  };

  // ---- forward-pass experiments (distance, range, norms): one pass over the examples
  const fwdExps = (['distance', 'range', 'norms'] as const).filter((e) => exps.has(e));
  const distStats = new Map<string, Record<keyof HeadDistances, GridStat>>();
  const perExample: Record<string, HeadDistances[]> = {};
  const distModels = models.filter((m) => m.role !== 'teacher');
  const headSums = new Map<string, GridStat[]>(); // per model: prob, fx, afx
  const headDiffSums = new Map<string, GridStat[]>();
  const classAcc = new Map<string, Record<TokenClass, { s: number[][]; c: number[][] }>>(); // [quantity][layer]
  let normsUsed = 0;
  const rangeSum = new Map<
    string,
    { min: number[]; max: number[]; n: number; perExample: { min: number[]; max: number[] }[] }
  >();
  const partial: PartialResults = {
    ...(o.resume?.forward ? { forward: o.resume.forward } : {}),
    ...(o.resume?.hessian ? { hessian: { ...o.resume.hessian } } : {}),
  };
  if (fwdExps.length && o.resume?.forward) {
    // kept from an interrupted run of the same settings
    const f = o.resume.forward;
    Object.assign(res, {
      ...(f.distance ? { distance: f.distance } : {}),
      ...(f.range ? { range: f.range } : {}),
      ...(f.norms ? { norms: f.norms } : {}),
    });
    Object.assign(secs, f.seconds);
    log(`forward experiments (${fwdExps.join(', ')}): kept from the interrupted analysis`);
  } else if (fwdExps.length) {
    o.onPlan?.('forward', examples.length, examples.length);
    // weights quantized once per model (the forward value is identical to the live quantizers')
    const fq = new Map(
      models.filter((m) => m.quant).map((m) => [m.id, new FrozenWeightQuant(m.quant!, m.params, false)]),
    );
    if (exps.has('range') && !(o.rangeExample >= 0 && o.rangeExample < examples.length))
      throw new Error(`range example ${o.rangeExample} outside the ${examples.length} examples`);
    for (let k = 0; k < examples.length; k++) {
      if (o.shouldStop?.()) {
        for (const f of fq.values()) f.dispose();
        throw new AnalysisStopped(
          `after ${k} of ${examples.length} examples of the forward experiments (they are redone)`,
        );
      }
      const e = examples[k];
      const n = e.ids.length;
      const b = exampleBatch(e, o.tokenTypes);
      const normTok = o.norms.token === 'sep' ? firstIndexOf(e.ids, o.norms.classIds.sep) : o.norms.token;
      const doNorms = exps.has('norms') && normTok >= 0 && normTok < n;
      const wanted = models.filter((m) => m.role !== 'quantized' || exps.has('distance'));
      const outs = new Map<string, BertOutputs>();
      await timed('forward', async () => {
        for (const m of wanted)
          outs.set(m.id, forward(m, fq.get(m.id), b, doNorms && m.role !== 'quantized' ? o.norms.wo : undefined));
      });
      const T = outs.get(teacher.id)!;
      if (exps.has('distance'))
        await timed('distance', async () => {
          for (const m of distModels) {
            const d = await headDistances(outs.get(m.id)!.probs, T.probs, 0, n);
            if (!distStats.has(m.id))
              distStats.set(m.id, {
                rankingLoss: new GridStat(),
                coverLengthRatio: new GridStat(),
                rowKl: new GridStat(),
              });
            const st = distStats.get(m.id)!;
            st.rankingLoss.add(d.rankingLoss);
            st.coverLengthRatio.add(d.coverLengthRatio);
            st.rowKl.add(d.rowKl);
            (perExample[m.id] ??= []).push(d);
          }
        });
      if (exps.has('range'))
        await timed('range', async () => {
          for (const m of [teacher, ...students]) {
            const r = await attentionOutputRange(outs.get(m.id)!.attnOutput, 0, n);
            if (k === o.rangeExample) {
              res.range ??= {
                exampleIndex: e.index,
                tokens: Array.from(e.ids),
                models: {},
                meanRange: {},
                perExample: {},
              };
              res.range.models[m.id] = r;
            }
            const acc = rangeSum.get(m.id) ?? {
              min: r.min.map(() => 0),
              max: r.max.map(() => 0),
              n: 0,
              perExample: [],
            };
            const tokenMean = (v: number[]) => v.reduce((a, x) => a + x, 0) / n;
            const ex = { min: r.min.map(tokenMean), max: r.max.map(tokenMean) };
            ex.min.forEach((v, l) => {
              acc.min[l] += v;
              acc.max[l] += ex.max[l];
            });
            acc.perExample.push(ex);
            acc.n++;
            rangeSum.set(m.id, acc);
          }
        });
      if (doNorms)
        await timed('norms', async () => {
          const per = new Map<string, ExampleNorms>();
          for (const m of [teacher, ...students]) {
            const out = outs.get(m.id)!;
            per.set(m.id, await exampleNorms(out.probs, out.norms!, e.ids, normTok, o.norms.classIds));
          }
          const t = per.get(teacher.id)!;
          for (const m of [teacher, ...students]) {
            const v = per.get(m.id)!;
            if (!headSums.has(m.id)) headSums.set(m.id, [new GridStat(), new GridStat(), new GridStat()]);
            const hs = headSums.get(m.id)!;
            hs[0].add(v.heads.prob);
            hs[1].add(v.heads.fx);
            hs[2].add(v.heads.afx);
            if (m.role !== 'student') continue;
            if (!headDiffSums.has(m.id)) headDiffSums.set(m.id, [new GridStat(), new GridStat(), new GridStat()]);
            const hd = headDiffSums.get(m.id)!;
            const absDiff = (a: number[][], c: number[][]) => a.map((r, i) => r.map((x, j) => Math.abs(x - c[i][j])));
            hd[0].add(absDiff(t.heads.prob, v.heads.prob));
            hd[1].add(absDiff(t.heads.fx, v.heads.fx));
            hd[2].add(absDiff(t.heads.afx, v.heads.afx));
            if (!classAcc.has(m.id))
              classAcc.set(
                m.id,
                Object.fromEntries(
                  TOKEN_CLASSES.map((c) => [c, { s: [[], [], []], c: [[], [], []] }]),
                ) as unknown as Record<TokenClass, { s: number[][]; c: number[][] }>,
              );
            const ca = classAcc.get(m.id)!;
            for (const c of TOKEN_CLASSES)
              (['alpha', 'fx', 'sumAfx'] as const).forEach((q, qi) =>
                t.classes[c][q].forEach((tv, l) => {
                  const sv = v.classes[c][q][l];
                  if (!Number.isFinite(tv) || !Number.isFinite(sv)) return; // class absent from this example
                  ca[c].s[qi][l] = (ca[c].s[qi][l] ?? 0) + Math.abs(tv - sv);
                  ca[c].c[qi][l] = (ca[c].c[qi][l] ?? 0) + 1;
                }),
              );
          }
          normsUsed++;
        });
      for (const out of outs.values()) tf.dispose(out as unknown as tf.TensorContainer);
      disposeBatch(b);
      o.onProgress?.(k + 1, examples.length, `forward experiments (${fwdExps.join(', ')})`);
    }
    for (const f of fq.values()) f.dispose();
  }
  const fresh = fwdExps.length > 0 && !o.resume?.forward;
  if (fresh && exps.has('distance')) {
    res.distance = { examples: examples.length, models: {}, perExample };
    for (const [id, st] of distStats)
      res.distance.models[id] = {
        rankingLoss: st.rankingLoss.stat(),
        coverLengthRatio: st.coverLengthRatio.stat(),
        rowKl: st.rowKl.stat(),
      };
  }
  if (fresh && res.range)
    for (const [id, a] of rangeSum) {
      res.range.meanRange[id] = { min: a.min.map((v) => v / a.n), max: a.max.map((v) => v / a.n) };
      res.range.perExample[id] = a.perExample;
    }
  if (fresh && exps.has('norms')) {
    if (!normsUsed)
      log(
        `norms: no example contains the token ${o.norms.token === 'sep' ? `[SEP] (id ${o.norms.classIds.sep})` : `#${o.norms.token}`}; nothing to report`,
      );
    const g = (s: GridStat[]) => ({ prob: s[0].stat().mean, fx: s[1].stat().mean, afx: s[2].stat().mean });
    res.norms = {
      token: o.norms.token,
      wo: o.norms.wo,
      examplesUsed: normsUsed,
      heads: Object.fromEntries([...headSums].map(([id, s]) => [id, g(s)])),
      headDiffs: Object.fromEntries([...headDiffSums].map(([id, s]) => [id, g(s)])),
      classDiffs: Object.fromEntries(
        [...classAcc].map(([id, ca]) => [
          id,
          Object.fromEntries(
            TOKEN_CLASSES.map((c) => [
              c,
              Object.fromEntries(
                (['alpha', 'fx', 'sumAfx'] as const).map((q, qi) => [
                  q,
                  ca[c].s[qi].map((s, l) => (ca[c].c[qi][l] ? s / ca[c].c[qi][l] : null)),
                ]),
              ),
            ]),
          ),
        ]),
      ) as NonNullable<AnalysisResults['norms']>['classDiffs'],
    };
  }

  if (fresh) {
    partial.forward = {
      ...(res.distance ? { distance: res.distance } : {}),
      ...(res.range ? { range: res.range } : {}),
      ...(res.norms ? { norms: res.norms } : {}),
      seconds: { ...secs },
    };
    o.onPartial?.(partial);
  }

  // ---- Hessian spectra
  if (exps.has('hessian')) {
    res.hessian = await timed('hessian', () =>
      runHessian(
        models,
        examples,
        o.hessian,
        (e) => exampleBatch(e, o.tokenTypes),
        (d, t, w) => o.onProgress?.(d, t, w),
        log,
        {
          done: o.resume?.hessian,
          shouldStop: o.shouldStop,
          onPlan: (r, t, mp, sp) => o.onPlan?.('hessian', r, t, mp, sp),
          onRow: (id, rows) => {
            partial.hessian = { ...partial.hessian, [id]: rows };
            o.onPartial?.(partial);
          },
        },
      ),
    );
  }
  return res;
}
