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
import { kdLoss, TERMS, TERM_FNS, type Coeffs, type KdBatch, type Term } from '../kd/losses.js';
import { BertAdam, ADAM_DEFAULTS } from '../train/bertadam.js';
import { kdStep, toVariables } from '../train/step.js';
import type { Report } from './report.js';

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
}

export function loadModelFixture(dir: string, name: string): ModelFixture {
  const m = loadBertDir(dir);
  const inputs = readSafetensors(join(dir, 'inputs.safetensors')).tensors;
  const ref = readSafetensors(join(dir, 'reference.safetensors')).tensors;
  const need = (k: string) => { const t = inputs.get(k); if (!t) throw new Error(`${join(dir, 'inputs.safetensors')}: missing "${k}"`); return t; };
  const int2 = (k: string) => { const t = need(k); return tf.tensor2d(Int32Array.from(t.data), t.shape as [number, number], 'int32'); };
  const regression = m.config.num_labels === 1;
  const labels = need('labels');
  const seq = need('seq_lengths');
  return {
    name, dir, config: m.config, params: m.params, inputs, ref, regression,
    batch: { inputIds: int2('input_ids'), tokenTypeIds: int2('token_type_ids'), attentionMask: int2('attention_mask') },
    kd: {
      labels: regression ? tf.tensor1d(Float32Array.from(labels.data), 'float32') : tf.tensor1d(Int32Array.from(labels.data), 'int32'),
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
    hidden: o.hidden, scores: o.scores, probs: o.probs, context: o.context, attn_output: o.attnOutput, sa_output: o.saOutput,
    norm_fx: o.norms?.map((n) => n.fx), norm_afx: o.norms?.map((n) => n.afx), norm_sum_afx: o.norms?.map((n) => n.sumAfx),
  };
  return list[m[1]]?.[i];
}

async function compareTensor(report: Report, fx: ModelFixture, key: string, t: tf.Tensor | undefined, tol: number): Promise<void> {
  const r = fx.ref.get(key)!;
  if (!t) return report.fail(fx.name, key, 'no such output');
  report.compare(fx.name, key, await t.data(), r.data, tol, 'rel', [t.shape, r.shape]);
}

const studentHooks = () => makeQuantHooks(QUANT_DEFAULTS);

function forwards(fx: ModelFixture, training = false): { teacher: BertOutputs; student: BertOutputs } {
  return {
    teacher: bertForward(fx.params, fx.config, fx.batch, { training, norms: 'latent' }),
    student: bertForward(fx.params, fx.config, fx.batch, { training, quant: studentHooks(), norms: 'latent' }),
  };
}

const kdOpts = (fx: ModelFixture) => ({ regression: fx.regression, gtRegressionUsesLabels: false });

/** loss.total of the fixtures: pred + rep + 0.7 map + 0.3 output */
const FIXTURE_TOTAL: Coeffs = { gt: 0, pred: 1, rep: 1, score: 0, context: 0, sa_output: 0, map: 0.7, output: 0.3 };

export const MODEL_GROUPS: CheckGroup[] = [
  {
    name: 'forward',
    claims: (k) => /^(teacher|student)\./.test(k),
    async run(fx, keys, report) {
      const outs = tf.tidy(() => forwards(fx) as unknown as tf.TensorContainer) as unknown as { teacher: BertOutputs; student: BertOutputs };
      for (const key of keys) {
        const [who, ...rest] = key.split('.');
        const suffix = rest.join('.');
        const tol = who === 'teacher' ? 1e-5 : 1e-3;
        await compareTensor(report, fx, key, outputByKey(who === 'teacher' ? outs.teacher : outs.student, suffix), tol);
      }
      tf.dispose(outs as unknown as tf.TensorContainer);
    },
  },
  {
    name: 'qweight',
    claims: (k) => k.startsWith('qweight.'),
    async run(fx, keys, report) {
      const hooks = studentHooks();
      for (const key of keys) {
        const name = key.slice('qweight.'.length);
        const q = hooks.weightQuantizer(name);
        if (!q || !fx.params[name]) { report.fail(fx.name, key, q ? 'no such parameter' : 'no quantizer attached to this parameter'); continue; }
        const t = q.quantize(fx.params[name]);
        await compareTensor(report, fx, key, t, 1e-5);
        t.dispose();
      }
    },
  },
  {
    name: 'actquant',
    claims: (k) => k.startsWith('actquant.'),
    async run(fx, keys, report) {
      const probe = fx.ref.get('actquant.probe');
      if (!probe) return report.fail(fx.name, 'actquant.out', 'actquant.probe missing');
      for (const key of keys) {
        if (key === 'actquant.probe') continue; // the input, checked through actquant.out
        if (key !== 'actquant.out') { report.skip(fx.name, key, 'unknown actquant key'); continue; }
        const x = tf.tensor(Float32Array.from(probe.data), probe.shape);
        const q = sym(QUANT_DEFAULTS.actBits, { clip: QUANT_DEFAULTS.clip }).quantize(x);
        await compareTensor(report, fx, key, q, 1e-5);
        tf.dispose([x, q]);
      }
    },
  },
  {
    name: 'loss',
    claims: (k) => k.startsWith('loss.'),
    async run(fx, keys, report) {
      const vals = tf.tidy(() => {
        const { teacher, student } = forwards(fx);
        const out: Record<string, tf.Tensor> = {};
        // the reference stores each loss as a [1] tensor
        for (const t of TERMS) out[t] = TERM_FNS[t](student, teacher, fx.kd, kdOpts(fx)).reshape([1]);
        out.total = kdLoss(student, teacher, fx.kd, FIXTURE_TOTAL, kdOpts(fx)).total.reshape([1]);
        return out;
      });
      for (const key of keys) {
        const term = key.slice('loss.'.length);
        if (!vals[term]) { report.skip(fx.name, key, 'unknown loss term'); continue; }
        await compareTensor(report, fx, key, vals[term], 1e-3);
      }
      tf.dispose(vals);
    },
  },
  {
    name: 'grad',
    claims: (k) => k.startsWith('grad.'),
    async run(fx, keys, report) {
      const names = Object.keys(fx.params);
      const byTerm = new Map<string, string[]>();
      for (const key of keys) {
        const term = TERMS.find((t) => key.startsWith(`grad.${t}.`));
        if (!term) { report.skip(fx.name, key, 'unknown loss term'); continue; }
        byTerm.set(term, [...(byTerm.get(term) ?? []), key]);
      }
      for (const [term, tkeys] of byTerm) {
        const teacher = tf.tidy(() => bertForward(fx.params, fx.config, fx.batch) as unknown as tf.TensorContainer) as unknown as BertOutputs;
        const hooks = studentHooks();
        const vars = toVariables(fx.params, `grad-${term}-`);
        // variableGrads (not tf.grads): a term may not depend on every parameter (score: not on the classifier)
        const { value, grads } = tf.variableGrads(() => {
          const s = bertForward(vars, fx.config, fx.batch, { training: true, quant: hooks });
          return TERM_FNS[term as Term](s, teacher, fx.kd, kdOpts(fx));
        }, Object.values(vars));
        const g = names.map((n) => grads[vars[n].name] ?? tf.zerosLike(fx.params[n]));
        value.dispose();
        tf.dispose(Object.values(vars));
        for (const key of tkeys) {
          const pname = key.slice(`grad.${term}.`.length);
          const i = names.indexOf(pname);
          const r = fx.ref.get(key)!;
          if (i < 0) { report.fail(fx.name, key, 'no such parameter'); continue; }
          const data = await g[i].data();
          const refNorm = Math.hypot(...r.data);
          if (refNorm === 0) report.compare(fx.name, key, data, r.data, 1e-7, 'abs', [g[i].shape, r.shape]);
          else report.compare(fx.name, key, data, r.data, 1e-3, 'rel', [g[i].shape, r.shape]);
        }
        tf.dispose([...g, teacher as unknown as tf.Tensor]);
      }
    },
  },
  {
    name: 'train',
    claims: (k) => k.startsWith('train.loss.') || /^after_\d+_steps\./.test(k),
    async run(fx, keys, report) {
      const stepsKeys = keys.filter((k) => k.startsWith('after_'));
      const nSteps = Math.max(0, ...keys.map((k) => Number((/^after_(\d+)_steps\./.exec(k) ?? /^train\.loss\.(\d+)$/.exec(k))?.[1] ?? -1) + (k.startsWith('train.') ? 1 : 0)));
      const student = toVariables(fx.params, `verify-${fx.name}`);
      const optimizer = new BertAdam({ ...ADAM_DEFAULTS, lr: 1e-2, warmup: 0.1, tTotal: 10 });
      const ctx = { config: fx.config, teacher: fx.params, student, hooks: studentHooks(), coeffs: FIXTURE_TOTAL, kdOptions: kdOpts(fx), optimizer };
      const losses: number[] = [];
      for (let s = 0; s < nSteps; s++) losses.push((await kdStep(ctx, { batch: fx.batch, kd: fx.kd })).loss);
      for (const key of keys) {
        const m = /^train\.loss\.(\d+)$/.exec(key);
        if (m) { report.compare(fx.name, key, [losses[Number(m[1])]], fx.ref.get(key)!.data, 1e-3); continue; }
        const a = /^after_(\d+)_steps\.(.+)$/.exec(key)!;
        if (Number(a[1]) !== nSteps && stepsKeys.length) { report.skip(fx.name, key, `only the state after ${nSteps} steps is kept`); continue; }
        const v = student[a[2]];
        if (!v) { report.fail(fx.name, key, 'no such parameter'); continue; }
        await compareTensor(report, fx, key, v, 1e-3);
      }
      optimizer.dispose();
      tf.dispose(Object.values(student));
    },
  },
];

/** Extra groups registered by other modules (analysis, hessian). */
export const EXTRA_MODEL_GROUPS: CheckGroup[] = [];

export async function verifyModels(fixturesDir: string, report: Report, only?: string[]): Promise<void> {
  const root = join(fixturesDir, 'models');
  if (!existsSync(root)) return;
  const { readdirSync, statSync } = await import('node:fs');
  for (const name of readdirSync(root).sort()) {
    const dir = join(root, name);
    if (!statSync(dir).isDirectory()) continue;
    let fx: ModelFixture;
    try { fx = loadModelFixture(dir, name); } catch (e) { report.fail(name, '(load)', (e as Error).message); continue; }
    const groups = [...MODEL_GROUPS, ...EXTRA_MODEL_GROUPS].filter((g) => !only || only.includes(g.name));
    const claimed = new Map<CheckGroup, string[]>();
    for (const key of [...fx.ref.keys()].sort(naturalCompare)) {
      const g = [...MODEL_GROUPS, ...EXTRA_MODEL_GROUPS].find((gr) => gr.claims(key));
      if (!g) { report.skip(name, key, 'no check implements this key'); continue; }
      if (!groups.includes(g)) continue;
      claimed.set(g, [...(claimed.get(g) ?? []), key]);
    }
    for (const [g, keys] of claimed) {
      try { await g.run(fx, keys, report); }
      catch (e) { report.fail(name, `(${g.name})`, (e as Error).stack ?? String(e)); }
    }
    tf.dispose([...Object.values(fx.params), fx.batch.inputIds, fx.batch.tokenTypeIds, fx.batch.attentionMask, fx.kd.labels, fx.kd.seqLengths]);
  }
}

/** "hidden.10" after "hidden.9" */
export function naturalCompare(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}
