/**
 * The analysis runner behind `npm run analyze`: runs the selected analyses of the registry over dev examples, one
 * example at a time (batch 1, sliced to its seq_length as the reference's notebooks do), and returns plain JSON-able
 * results. The forward analyses share one pass over the examples (each model's forward once per example); the others
 * (the Hessian spectra) run after it on their own. Models: the FP teacher, the students (with their quantizers), and
 * "quantized" = the teacher's weights in the quantized model without QAT (the notebook's student_Q).
 */
import * as tf from '@tensorflow/tfjs';
import { bertForward, type Batch, type BertOutputs } from '../model/bert.js';
import { FrozenWeightQuant } from './frozen-quant.js';
import { ANALYSES, type AnalysisResults, type AnalysisSettings, type Experiment } from './registry.js';
import type { HessianRow } from './run-hessian.js';
import { AnalysisStopped, type Accumulator, type AnalysisExample, type AnalysisModel } from './types.js';

export type { AnalysisResults } from './registry.js';

export interface AnalysisOptions extends Partial<AnalysisSettings> {
  task: string;
  experiments: Experiment[];
  /** 'zeros': token_type_ids all 0 as the notebooks (quirk); 'real': the features' segment ids */
  tokenTypes: 'zeros' | 'real';
  log?: (s: string) => void;
  onProgress?: (done: number, total: number, what: string) => void;
  /** parts finished by an interrupted run of the same settings (see PartialResults) */
  resume?: PartialResults;
  /** called with everything finished so far, after the forward pass and after each part of the other analyses */
  onPartial?: (p: PartialResults) => void;
  /** checked between examples and between spectra: true stops with AnalysisStopped (finished parts reported) */
  shouldStop?: () => boolean;
  /** the long parts' plan, said before they start: what remains of them */
  onPlan?: (what: string, remaining: number, total: number, maxProducts?: number, secondsPerProduct?: number) => void;
}

/** What an interrupted analysis keeps: the forward analyses' results (all or none) and the others' checkpoints. */
export interface PartialResults {
  forward?: Pick<AnalysisResults, 'distance' | 'range' | 'norms'> & { seconds: Record<string, number> };
  hessian?: Record<string, HessianRow[]>;
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

/** one model's outputs on a [1,n] batch, its weights quantized once beforehand (fq) */
function forward(m: AnalysisModel, fq: FrozenWeightQuant | undefined, b: Batch, norms?: 'latent' | 'quantized') {
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
  const chosen = ANALYSES.filter((a) => o.experiments.includes(a.name as Experiment));
  const settingsOf = (name: string): unknown => (o as unknown as Record<string, unknown>)[name];
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
  const out = res as unknown as Record<string, unknown>;
  const secs = res.meta.seconds;
  const timed = async <T>(k: string, f: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    try {
      return await f();
    } finally {
      secs[k] = (secs[k] ?? 0) + (performance.now() - t0) / 1000;
    }
  };
  const partial: PartialResults = { ...o.resume, ...(o.resume?.hessian ? { hessian: { ...o.resume.hessian } } : {}) };

  // ---- the forward analyses: one pass over the examples
  const fwd = chosen.flatMap((a) => (a.kind === 'forward' ? [a] : []));
  const names = fwd.map((a) => a.name).join(', ');
  if (fwd.length && o.resume?.forward) {
    const kept = o.resume.forward as Record<string, unknown>;
    for (const a of fwd) if (kept[a.name]) out[a.name] = kept[a.name];
    Object.assign(secs, o.resume.forward.seconds);
    log(`forward experiments (${names}): kept from the interrupted analysis`);
  } else if (fwd.length) {
    o.onPlan?.('forward', examples.length, examples.length);
    const ctx = { models, teacher, examples, log };
    const accs: [string, Accumulator<unknown>][] = fwd.map((a) => [a.name, a.start(ctx, settingsOf(a.name))]);
    const wanted = models.filter((m) => fwd.some((a) => a.reads(m)));
    // weights quantized once per model (the forward value is identical to the live quantizers')
    const fq = new Map(
      models.filter((m) => m.quant).map((m) => [m.id, new FrozenWeightQuant(m.quant!, m.params, false)]),
    );
    for (let k = 0; k < examples.length; k++) {
      if (o.shouldStop?.()) {
        for (const f of fq.values()) f.dispose();
        throw new AnalysisStopped(
          `after ${k} of ${examples.length} examples of the forward experiments (they are redone)`,
        );
      }
      const e = examples[k];
      const b = exampleBatch(e, o.tokenTypes);
      const outs = new Map<string, BertOutputs>();
      await timed('forward', async () => {
        for (const m of wanted) {
          const norms = accs.map(([, acc]) => acc.normsFor?.(m, e)).find((x) => x !== undefined);
          outs.set(m.id, forward(m, fq.get(m.id), b, norms));
        }
      });
      for (const [name, acc] of accs) await timed(name, () => acc.add(k, e, outs));
      for (const x of outs.values()) tf.dispose(x as unknown as tf.TensorContainer);
      tf.dispose([b.inputIds, b.tokenTypeIds, b.attentionMask]);
      o.onProgress?.(k + 1, examples.length, `forward experiments (${names})`);
    }
    for (const f of fq.values()) f.dispose();
    for (const [name, acc] of accs) out[name] = acc.finish();
    partial.forward = { ...Object.fromEntries(accs.map(([name]) => [name, out[name]])), seconds: { ...secs } };
    o.onPartial?.(partial);
  }

  // ---- the others, each on its own
  for (const a of chosen) {
    if (a.kind !== 'pass') continue;
    const p = partial as Record<string, unknown>;
    out[a.name] = await timed(a.name, () =>
      a.run(
        {
          models,
          examples,
          makeBatch: (e) => exampleBatch(e, o.tokenTypes),
          log,
          onProgress: (d, t, w) => o.onProgress?.(d, t, w),
          shouldStop: o.shouldStop,
          onPlan: (r, t, mp, sp) => o.onPlan?.(a.name, r, t, mp, sp),
          resume: p[a.name],
          onPartial: (x) => {
            p[a.name] = x;
            o.onPartial?.(partial);
          },
        },
        settingsOf(a.name),
      ),
    );
  }
  return res;
}
