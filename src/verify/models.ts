/**
 * Model fixtures (fixtures/models/<name>/): config.json, model.safetensors, inputs.safetensors and the reference's
 * tensors in reference.safetensors. Every reference key is claimed by one check group below or reported as
 * "not checked yet". Nothing here depends on the shipped fixtures' sizes.
 */
import * as tf from '@tensorflow/tfjs';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors, type RawTensor } from '../util/safetensors.js';
import { loadBertDir } from '../model/checkpoint.js';
import { bertForward, type Batch, type BertOutputs } from '../model/bert.js';
import type { BertConfig } from '../model/config.js';
import { makeQuantHooks, QUANT_DEFAULTS } from '../quant/plan.js';
import { sym } from '../quant/quantizers.js';
import { kdLoss, TERMS, TERM_FNS, type Coeffs, type KdBatch } from '../kd/losses.js';
import { BertAdam, ADAM_DEFAULTS } from '../train/bertadam.js';
import { staticKdStep } from '../distill/step.js';
import { toVariables } from '../distill/quantize.js';
import type { Mode, Report } from './report.js';

export interface ModelFixture {
  name: string;
  dir: string;
  config: BertConfig;
  params: Record<string, tf.Tensor>;
  inputs: Map<string, RawTensor>;
  ref: Map<string, RawTensor>;
  batch: Batch;
  kd: KdBatch;
  regression: boolean;
}

/** A check group claims reference keys by prefix and checks them. */
export interface CheckGroup {
  name: string;
  claims(key: string): boolean;
  run(fx: ModelFixture, keys: string[], report: Report): Promise<void>;
  /** groups that can also produce values (used by scripts/make-fixture.ts to write self-consistent fixture sets) */
  compute?(fx: ModelFixture, keys: string[]): Promise<Map<string, Value>>;
  /** the keys this group would produce for a model (for fixture generation) */
  keysFor?(fx: ModelFixture): string[];
}

export interface Value {
  data: ArrayLike<number>;
  shape: number[];
}

type Tol = (key: string, ref: RawTensor) => { tol: number; mode: Mode };

/** A group whose values are computed first, then compared key by key with per-key tolerances. */
function computedGroup(g: {
  name: string;
  claims: (k: string) => boolean;
  tol: Tol;
  compute: (fx: ModelFixture, keys: string[]) => Promise<Map<string, Value>>;
  keysFor: (fx: ModelFixture) => string[];
}): CheckGroup {
  return {
    ...g,
    async run(fx, keys, report) {
      const vals = await g.compute(fx, keys);
      for (const key of keys) {
        const v = vals.get(key),
          r = fx.ref.get(key)!;
        if (!v) {
          report.skip(fx.name, key, `no ${g.name} check knows this key`);
          continue;
        }
        const { tol, mode } = g.tol(key, r);
        report.compare(fx.name, key, v.data, r.data, tol, mode, [v.shape, r.shape]);
      }
    },
  };
}

async function valueOf(t: tf.Tensor): Promise<Value> {
  return { data: await t.data(), shape: t.shape };
}

export function loadModelFixture(dir: string, name: string): ModelFixture {
  const m = loadBertDir(dir);
  const inputs = readSafetensors(join(dir, 'inputs.safetensors')).tensors;
  const refPath = join(dir, 'reference.safetensors');
  const ref = existsSync(refPath) ? readSafetensors(refPath).tensors : new Map<string, RawTensor>();
  const need = (k: string) => {
    const t = inputs.get(k);
    if (!t) throw new Error(`${join(dir, 'inputs.safetensors')}: missing "${k}"`);
    return t;
  };
  const int2 = (k: string) => {
    const t = need(k);
    return tf.tensor2d(Int32Array.from(t.data), t.shape as [number, number], 'int32');
  };
  const regression = m.config.num_labels === 1;
  const labels = need('labels');
  const seq = need('seq_lengths');
  return {
    name,
    dir,
    config: m.config,
    params: m.params,
    inputs,
    ref,
    regression,
    batch: { inputIds: int2('input_ids'), tokenTypeIds: int2('token_type_ids'), attentionMask: int2('attention_mask') },
    kd: {
      labels: regression
        ? tf.tensor1d(Float32Array.from(labels.data), 'float32')
        : tf.tensor1d(Int32Array.from(labels.data), 'int32'),
      seqLengths: tf.tensor1d(Int32Array.from(seq.data), 'int32'),
    },
  };
}

/** Look up one per-layer/named output by its fixture suffix ("logits", "hidden.3", "norm_fx.0", ...). */
export function outputByKey(o: BertOutputs, suffix: string): tf.Tensor | undefined {
  if (suffix === 'logits') return o.logits;
  const m = /^([a-z_]+)\.(\d+)$/.exec(suffix);
  if (!m) return undefined;
  const i = Number(m[2]);
  const list: Record<string, (tf.Tensor | undefined)[] | undefined> = {
    hidden: o.hidden,
    scores: o.scores,
    probs: o.probs,
    context: o.context,
    attn_output: o.attnOutput,
    sa_output: o.saOutput,
    norm_fx: o.norms?.map((n) => n.fx),
    norm_afx: o.norms?.map((n) => n.afx),
    norm_sum_afx: o.norms?.map((n) => n.sumAfx),
  };
  return list[m[1]]?.[i];
}

const studentHooks = () => makeQuantHooks(QUANT_DEFAULTS);

/** Teacher and default-quantized student outputs (with Kobayashi norms) on the fixture's batch; caller disposes. */
export function forwards(fx: ModelFixture, training = false): { teacher: BertOutputs; student: BertOutputs } {
  return {
    teacher: bertForward(fx.params, fx.config, fx.batch, { training, norms: 'latent' }),
    student: bertForward(fx.params, fx.config, fx.batch, { training, quant: studentHooks(), norms: 'latent' }),
  };
}

const kdOpts = (fx: ModelFixture) => ({ regression: fx.regression, gtRegressionUsesLabels: false });

/** loss.total of the fixtures: pred + rep + 0.7 map + 0.3 output */
const FIXTURE_TOTAL: Coeffs = { gt: 0, pred: 1, rep: 1, score: 0, context: 0, sa_output: 0, map: 0.7, output: 0.3 };

const L = (fx: ModelFixture) => Array.from({ length: fx.config.num_hidden_layers }, (_, i) => i);
const PER_LAYER = ['scores', 'probs', 'context', 'attn_output', 'sa_output', 'norm_fx', 'norm_afx', 'norm_sum_afx'];

export const MODEL_GROUPS: CheckGroup[] = [
  computedGroup({
    name: 'forward',
    claims: (k) => /^(teacher|student)\./.test(k),
    tol: (k) => ({ tol: k.startsWith('teacher.') && !k.includes('.norm_') ? 1e-5 : 1e-3, mode: 'rel' }),
    keysFor: (fx) =>
      ['teacher', 'student'].flatMap((w) => [
        `${w}.logits`,
        ...[...L(fx), fx.config.num_hidden_layers].map((i) => `${w}.hidden.${i}`),
        ...PER_LAYER.flatMap((n) => L(fx).map((i) => `${w}.${n}.${i}`)),
      ]),
    async compute(fx, keys) {
      const outs = tf.tidy(() => forwards(fx) as unknown as tf.TensorContainer) as unknown as {
        teacher: BertOutputs;
        student: BertOutputs;
      };
      const m = new Map<string, Value>();
      for (const key of keys) {
        const [who, ...rest] = key.split('.');
        const t = outputByKey(who === 'teacher' ? outs.teacher : outs.student, rest.join('.'));
        if (t) m.set(key, await valueOf(t));
      }
      tf.dispose(outs as unknown as tf.TensorContainer);
      return m;
    },
  }),
  computedGroup({
    name: 'qweight',
    claims: (k) => k.startsWith('qweight.'),
    tol: () => ({ tol: 1e-5, mode: 'rel' }),
    keysFor: (fx) => {
      const h = studentHooks();
      return Object.keys(fx.params)
        .filter((n) => h.weightQuantizer(n))
        .map((n) => `qweight.${n}`);
    },
    async compute(fx, keys) {
      const hooks = studentHooks();
      const m = new Map<string, Value>();
      for (const key of keys) {
        const name = key.slice('qweight.'.length);
        const q = hooks.weightQuantizer(name);
        if (!q || !fx.params[name]) continue;
        const t = q.quantize(fx.params[name]);
        m.set(key, await valueOf(t));
        t.dispose();
      }
      return m;
    },
  }),
  computedGroup({
    name: 'actquant',
    claims: (k) => k.startsWith('actquant.'),
    tol: () => ({ tol: 1e-5, mode: 'rel' }),
    keysFor: () => ['actquant.probe', 'actquant.out'],
    async compute(fx) {
      const probe = fx.ref.get('actquant.probe');
      const m = new Map<string, Value>();
      if (!probe) return m;
      m.set('actquant.probe', { data: probe.data, shape: probe.shape }); // the input, checked through actquant.out
      const x = tf.tensor(Float32Array.from(probe.data), probe.shape);
      const q = sym(QUANT_DEFAULTS.actBits, { clip: QUANT_DEFAULTS.clip }).quantize(x);
      m.set('actquant.out', await valueOf(q));
      tf.dispose([x, q]);
      return m;
    },
  }),
  computedGroup({
    name: 'loss',
    claims: (k) => k.startsWith('loss.'),
    tol: () => ({ tol: 1e-3, mode: 'rel' }),
    keysFor: () => [...TERMS, 'total'].map((t) => `loss.${t}`),
    async compute(fx) {
      const vals = tf.tidy(() => {
        const { teacher, student } = forwards(fx);
        // the reference stores each loss as a [1] tensor
        const out: Record<string, tf.Tensor> = {};
        for (const t of TERMS) out[`loss.${t}`] = TERM_FNS[t](student, teacher, fx.kd, kdOpts(fx)).reshape([1]);
        out['loss.total'] = kdLoss(student, teacher, fx.kd, FIXTURE_TOTAL, kdOpts(fx)).total.reshape([1]);
        return out;
      });
      const m = new Map<string, Value>();
      for (const [k, t] of Object.entries(vals)) m.set(k, await valueOf(t));
      tf.dispose(vals);
      return m;
    },
  }),
  computedGroup({
    name: 'grad',
    claims: (k) => k.startsWith('grad.'),
    // a reference gradient of norm 0 must be 0 within 1e-7 absolute
    tol: (_k, r) => (r.data.some((x) => x !== 0) ? { tol: 1e-3, mode: 'rel' } : { tol: 1e-7, mode: 'abs' }),
    keysFor: (fx) => TERMS.flatMap((t) => Object.keys(fx.params).map((n) => `grad.${t}.${n}`)),
    async compute(fx, keys) {
      const m = new Map<string, Value>();
      for (const term of TERMS) {
        const tkeys = keys.filter((k) => k.startsWith(`grad.${term}.`));
        if (!tkeys.length) continue;
        const teacher = tf.tidy(
          () => bertForward(fx.params, fx.config, fx.batch) as unknown as tf.TensorContainer,
        ) as unknown as BertOutputs;
        const hooks = studentHooks();
        const vars = toVariables(fx.params, `grad-${term}-`);
        // variableGrads (not tf.grads): a term may not depend on every parameter (score: not on the classifier)
        const { value, grads } = tf.variableGrads(() => {
          const s = bertForward(vars, fx.config, fx.batch, { training: true, quant: hooks });
          return TERM_FNS[term](s, teacher, fx.kd, kdOpts(fx));
        }, Object.values(vars));
        for (const key of tkeys) {
          const n = key.slice(`grad.${term}.`.length);
          if (!vars[n]) continue;
          const g = grads[vars[n].name];
          m.set(key, g ? await valueOf(g) : { data: new Float32Array(fx.params[n].size), shape: fx.params[n].shape });
        }
        value.dispose();
        tf.dispose([...Object.values(grads), ...Object.values(vars), teacher as unknown as tf.Tensor]);
      }
      return m;
    },
  }),
  computedGroup({
    name: 'train',
    claims: (k) => k.startsWith('train.loss.') || /^after_\d+_steps\./.test(k),
    tol: () => ({ tol: 1e-3, mode: 'rel' }),
    keysFor: (fx) =>
      [0, 1, 2].map((i) => `train.loss.${i}`).concat(Object.keys(fx.params).map((n) => `after_3_steps.${n}`)),
    async compute(fx, keys) {
      // the fixtures' recipe: BertAdam, lr 1e-2, warmup_linear 0.1 of t_total 10, on loss.total, train mode
      const nSteps = Math.max(
        0,
        ...keys.map((k) => {
          const a = /^after_(\d+)_steps\./.exec(k);
          const t = /^train\.loss\.(\d+)$/.exec(k);
          return a ? Number(a[1]) : t ? Number(t[1]) + 1 : 0;
        }),
      );
      const student = toVariables(fx.params, `verify-${fx.name}`);
      const optimizer = new BertAdam({ ...ADAM_DEFAULTS, lr: 1e-2, warmup: 0.1, tTotal: 10 });
      const ctx = {
        config: fx.config,
        teacher: fx.params,
        student,
        hooks: studentHooks(),
        coeffs: FIXTURE_TOTAL,
        kdOptions: kdOpts(fx),
        optimizer,
      };
      const m = new Map<string, Value>();
      const after = new Map<number, Record<string, Value>>();
      const wanted = new Set(keys.map((k) => Number(/^after_(\d+)_steps\./.exec(k)?.[1] ?? -1)));
      for (let s = 0; s < nSteps; s++) {
        m.set(`train.loss.${s}`, {
          data: [(await staticKdStep(ctx, { batch: fx.batch, kd: fx.kd })).loss],
          shape: [1],
        });
        if (wanted.has(s + 1)) {
          const snap: Record<string, Value> = {};
          for (const [n, v] of Object.entries(student)) snap[n] = await valueOf(v);
          after.set(s + 1, snap);
        }
      }
      for (const key of keys) {
        const a = /^after_(\d+)_steps\.(.+)$/.exec(key);
        const v = a ? after.get(Number(a[1]))?.[a[2]] : undefined;
        if (v) m.set(key, v);
      }
      optimizer.dispose();
      tf.dispose(Object.values(student));
      return m;
    },
  }),
];

/** Check every model fixture; `extra`: groups of other modules (the analysis and hessian checks) beside these. */
export async function verifyModels(
  fixturesDir: string,
  report: Report,
  only?: string[],
  extra: CheckGroup[] = [],
): Promise<void> {
  const root = join(fixturesDir, 'models');
  if (!existsSync(root)) return;
  const { readdirSync, statSync } = await import('node:fs');
  for (const name of readdirSync(root).sort()) {
    const dir = join(root, name);
    if (!statSync(dir).isDirectory()) continue;
    let fx: ModelFixture;
    try {
      fx = loadModelFixture(dir, name);
    } catch (e) {
      report.fail(name, '(load)', (e as Error).message);
      continue;
    }
    const groups = [...MODEL_GROUPS, ...extra].filter((g) => !only || only.includes(g.name));
    const claimed = new Map<CheckGroup, string[]>();
    for (const key of [...fx.ref.keys()].sort(naturalCompare)) {
      const g = [...MODEL_GROUPS, ...extra].find((gr) => gr.claims(key));
      if (!g) {
        report.skip(name, key, 'no check implements this key');
        continue;
      }
      if (!groups.includes(g)) continue;
      claimed.set(g, [...(claimed.get(g) ?? []), key]);
    }
    for (const [g, keys] of claimed) {
      try {
        await g.run(fx, keys, report);
      } catch (e) {
        report.fail(name, `(${g.name})`, (e as Error).stack ?? String(e));
      }
    }
    tf.dispose([
      ...Object.values(fx.params),
      fx.batch.inputIds,
      fx.batch.tokenTypeIds,
      fx.batch.attentionMask,
      fx.kd.labels,
      fx.kd.seqLengths,
    ]);
  }
}

/** "hidden.10" after "hidden.9" */
export function naturalCompare(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}
