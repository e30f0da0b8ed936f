/**
 * npm run bench [-- --backend wasm --configs tiny,mini --reps 5 --warmup 2 --only forward,train,qat --out FILE
 * --profile]
 *
 * Median tokens/s (tokens = batch x seq, padding included, as the reference's throughput counts) of:
 *   forward  the FP forward in eval mode
 *   train    a full-precision training step: forward, backward, BertAdam
 *   qat      the KD-QAT step the product runs: teacher forward + ternary student forward/backward with the
 *            map+output loss + BertAdam update
 *   hvp      one exact Hessian-vector product (double backward) of the ternary student's loss (CE + 0.01 sum ||p||,
 *            eval mode, all parameters), as the Hessian analysis computes it: tiny at batch 1 x seq 64 and 8 x 128;
 *            the forward and first backward recorded once and replayed (as the reference's torch.autograd.grad with
 *            retain_graph, which its timing and PyHessian use)
 *   hvp-full the same product with the forward and first backward recomputed every time (dataset mode's cost)
 * for the tiny (2L/128H, batch 32, seq 128), mini (4L/256H, batch 16, seq 128) and base (12L/768H, batch 8, seq 128)
 * configs; `--threads N` sets the native backend's threads. Benchmarks are not tests: nothing here fails on slowness.
 * Results are appended to a JSON file with the machine and backend (default bench-results/history/results.json, not
 * tracked by git; bench-results/results.json is the tracked record).
 * `--profile` also prints, per case, where one step's time goes: kernel time summed by kernel name (tf.profile);
 * KDQAT_PROFILE_SHAPES=1 splits it by input shapes, KDQAT_PROFILE_TOP=N prints N rows (default 15).
 */
import * as tf from '@tensorflow/tfjs';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseFlags, runMain, num, RUN_FLAGS, UsageError, initBackendFromFlags } from './common.js';
import { atomicWriteJson } from '../util/fsx.js';
import { gitCommit } from '../util/provenance.js';
import { bertConfigFrom, BERT_DEFAULTS, BERT_PRESETS } from '../model/config.js';
import { bertForward } from '../model/bert.js';
import { initParams } from '../model/init.js';
import { makeQuantHooks, QUANT_DEFAULTS } from '../quant/plan.js';
import { presetCoeffs } from '../kd/losses.js';
import { BertAdam, ADAM_DEFAULTS } from '../train/bertadam.js';
import { staticKdStep } from '../distill/step.js';
import { toVariables } from '../distill/quantize.js';
import { makeBatch, disposeBatch } from '../train/batches.js';
import type { Features } from '../data/features.js';
import { BertHessian } from '../analysis/hessian.js';

const SETUPS = { tiny: { batch: 32, seq: 128 }, mini: { batch: 16, seq: 128 }, base: { batch: 8, seq: 128 } } as const;
/** batch x seq of the hvp case, per config (the PyTorch figures in issue 10 are for these) */
const HVP_SETUPS: Partial<Record<keyof typeof SETUPS, { batch: number; seq: number }[]>> = {
  tiny: [
    { batch: 1, seq: 64 },
    { batch: 8, seq: 128 },
  ],
};

const CASES = ['forward', 'train', 'qat', 'hvp', 'hvp-full'];
export const BENCH_HISTORY = 'bench-results/history/results.json';
const FLAGS = {
  backend: RUN_FLAGS.backend,
  threads: RUN_FLAGS.threads,
  configs: { type: 'string', help: `comma-separated configs: ${Object.keys(SETUPS).join(', ')} (default tiny,mini)` },
  only: { type: 'string', help: `comma-separated cases: ${CASES.join(', ')} (default forward,train,qat)` },
  reps: { type: 'string', help: 'timed repetitions (default 5)', num: { kind: 'int', min: 1 } },
  warmup: { type: 'string', help: 'warm-up steps (default 2)', num: { kind: 'int', min: 0 } },
  out: { type: 'string', help: `JSON history the rows are appended to (default ${BENCH_HISTORY}, not tracked by git)` },
  profile: { type: 'boolean', help: "also print where one step's time goes, by kernel" },
} as const;

/** one more run of fn under tf.profile: kernel milliseconds summed by kernel name, the top `top` printed */
async function printProfile(
  label: string,
  fn: () => Promise<void>,
  top = Number(process.env.KDQAT_PROFILE_TOP ?? 15),
): Promise<void> {
  const t0 = performance.now();
  const info = await tf.profile(fn);
  const wall = performance.now() - t0;
  const byName = new Map<string, { ms: number; calls: number }>();
  const shapes = process.env.KDQAT_PROFILE_SHAPES === '1';
  for (const k of info.kernels) {
    const key = shapes ? `${k.name} ${JSON.stringify(k.inputShapes)}` : k.name;
    const e = byName.get(key) ?? { ms: 0, calls: 0 };
    e.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    e.calls++;
    byName.set(key, e);
  }
  const total = [...byName.values()].reduce((a, e) => a + e.ms, 0);
  console.log(
    `#   profile of ${label}: ${wall.toFixed(0)} ms wall (profiled), ${total.toFixed(0)} ms in ${info.kernels.length}` +
      ` kernel calls`,
  );
  for (const [n, e] of [...byName.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, top)) {
    console.log(
      `#     ${n.padEnd(shapes ? 60 : 22)}${e.ms.toFixed(1).padStart(9)} ms` +
        `${((100 * e.ms) / total).toFixed(1).padStart(6)}%${String(e.calls).padStart(6)} calls`,
    );
  }
}

/** one timed case: `fn` runs one step (forward, training step, KD-QAT step or Hv product) of batch x seq tokens */
interface BenchCase {
  what: string;
  fn?: () => Promise<void>;
  batch: number;
  seq: number;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** random features of n sequences of length T with true lengths in [T/2, T] (vocab 30522, as bert-base-uncased) */
function randomFeatures(n: number, T: number, vocab: number, seed: number): Features {
  let s = seed;
  const r = () => (s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32;
  const ids = new Int32Array(n * T),
    am = new Int32Array(n * T),
    sl = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    sl[i] = Math.floor(T / 2 + r() * (T / 2));
    for (let t = 0; t < sl[i]; t++) {
      ids[i * T + t] = 1 + Math.floor(r() * (vocab - 1));
      am[i * T + t] = 1;
    }
  }
  return {
    inputIds: ids,
    tokenTypeIds: new Int32Array(n * T),
    attentionMask: am,
    seqLengths: sl,
    labels: Int32Array.from({ length: n }, (_, i) => i % 2),
    n,
    T,
  };
}

runMain('bench', async () => {
  const v = parseFlags(
    FLAGS,
    'npm run bench -- [--backend wasm] [--configs tiny,mini] [--only forward,train,qat] [--reps 5] [--warmup 2] ' +
      '[--profile]',
  );
  const reps = num(v, 'reps', 'int') ?? 5,
    warmup = num(v, 'warmup', 'int') ?? 2;
  if (reps < 1 || warmup < 0) throw new UsageError('--reps must be at least 1 and --warmup at least 0');
  const only = ((v.only as string | undefined) ?? 'forward,train,qat').split(',');
  for (const c of only)
    if (!CASES.includes(c)) throw new UsageError(`--only: unknown bench case "${c}": choose from ${CASES.join(', ')}`);
  const configs = ((v.configs as string | undefined) ?? 'tiny,mini').split(',') as (keyof typeof SETUPS)[];
  for (const c of configs)
    if (!SETUPS[c])
      throw new UsageError(`--configs: unknown bench config "${c}": choose from ${Object.keys(SETUPS).join(', ')}`);
  const out = resolve((v.out as string | undefined) ?? BENCH_HISTORY);
  const info = await initBackendFromFlags(v);
  const rows: Record<string, unknown>[] = [];
  console.log(
    `# kdqat bench: backend ${info.backend} (${info.threads} thread${info.threads > 1 ? 's' : ''}), ` +
      `${info.machine.cores}x ${info.machine.cpus}, ${info.machine.memGiB} GiB, node ${info.machine.node}`,
  );
  console.log(`# median of ${reps} timed repetitions after ${warmup} warm-up; tokens = batch x seq`);
  console.log(
    `${'config'.padEnd(8)}${'what'.padEnd(9)}${'batch'.padStart(6)}${'seq'.padStart(5)}${'ms/step'.padStart(10)}` +
      `${'tokens/s'.padStart(10)}${'min..max tok/s'.padStart(18)}${'peak MB'.padStart(9)}`,
  );
  for (const name of configs) {
    const setup = SETUPS[name];
    if (!setup) throw new Error(`unknown bench config "${name}": choose tiny, mini or base`);
    const c = bertConfigFrom(
      { ...BERT_DEFAULTS, ...BERT_PRESETS[name], vocab_size: 30522, num_labels: 2 },
      `bench ${name}`,
    );
    const teacher = initParams(c, 1);
    const f = randomFeatures(setup.batch, setup.seq, c.vocab_size, 7);
    const tb = makeBatch(
      f,
      Int32Array.from({ length: setup.batch }, (_, i) => i),
      false,
    );
    const cases: Record<string, () => Promise<void>> = {};
    cases.forward = async () => {
      const l = tf.tidy(() => bertForward(teacher, c, tb.batch).logits);
      await l.data();
      l.dispose();
    };
    const fpVars = toVariables(teacher, 'bench-fp');
    const fpOpt = new BertAdam({ ...ADAM_DEFAULTS, tTotal: 1000 });
    cases.train = async () => {
      const { value, grads } = tf.variableGrads(() => {
        const z = bertForward(fpVars, c, tb.batch, { training: true }).logits;
        return tf.neg(
          tf.mean(tf.sum(tf.mul(tf.logSoftmax(z), tf.oneHot(tf.cast(tb.kd.labels, 'int32') as tf.Tensor1D, 2)), -1)),
        ) as tf.Scalar;
      }, Object.values(fpVars));
      fpOpt.apply(fpVars, Object.fromEntries(Object.entries(fpVars).map(([n, v]) => [n, grads[v.name]])));
      await value.data();
      tf.dispose([value, ...Object.values(grads)]);
    };
    const student = toVariables(teacher, 'bench-st');
    const ctx = {
      config: c,
      teacher,
      student,
      hooks: makeQuantHooks(QUANT_DEFAULTS),
      coeffs: presetCoeffs('map+output'),
      kdOptions: { regression: false, gtRegressionUsesLabels: false },
      optimizer: new BertAdam({ ...ADAM_DEFAULTS, tTotal: 1000 }),
    };
    cases.qat = async () => {
      await staticKdStep(ctx, { batch: tb.batch, kd: tb.kd });
    };
    const hvpCases: (BenchCase & { dispose: () => void })[] = [];
    for (const what of only.filter((w) => w.startsWith('hvp'))) {
      for (const hs of HVP_SETUPS[name] ?? []) {
        const hb = makeBatch(
          randomFeatures(hs.batch, hs.seq, c.vocab_size, 11),
          Int32Array.from({ length: hs.batch }, (_, i) => i),
          false,
        );
        const h = new BertHessian({
          params: teacher,
          config: c,
          quant: QUANT_DEFAULTS,
          batches: [{ batch: hb.batch, labels: hb.kd.labels as tf.Tensor1D }],
          retainGraph: what === 'hvp',
        });
        const v = h.shapes.map((s, i) => tf.randomNormal(s, 0, 1, 'float32', i + 1));
        hvpCases.push({
          what,
          ...hs,
          fn: async () => {
            const hv = h.hv(v);
            await hv[0].data();
            tf.dispose(hv);
          },
          dispose: () => {
            h.dispose();
            tf.dispose(v);
            disposeBatch(hb);
          },
        });
      }
    }
    const runs = only.flatMap((what): BenchCase[] =>
      what.startsWith('hvp')
        ? hvpCases.filter((hc) => hc.what === what)
        : [{ what, fn: cases[what], batch: setup.batch, seq: setup.seq }],
    );
    for (const { what, fn, batch, seq } of runs) {
      if (!fn) throw new Error(`unknown bench case "${what}": choose forward, train, qat, hvp or hvp-full`);
      const tokens = batch * seq;
      for (let i = 0; i < warmup; i++) await fn();
      const times: number[] = [];
      let peak = 0;
      for (let i = 0; i < reps; i++) {
        const t0 = performance.now();
        if (i === 0)
          peak = (
            await tf.profile(async () => {
              await fn();
            })
          ).peakBytes;
        else await fn();
        times.push(performance.now() - t0);
      }
      const ms = median(times);
      const tps = tokens / (ms / 1000);
      const row = {
        config: name,
        what,
        batch,
        seq,
        layers: c.num_hidden_layers,
        hidden: c.hidden_size,
        msPerStep: ms,
        tokensPerSec: tps,
        minTokensPerSec: tokens / (Math.max(...times) / 1000),
        maxTokensPerSec: tokens / (Math.min(...times) / 1000),
        peakTensorMB: peak / 2 ** 20,
        reps,
        warmup,
      };
      rows.push(row);
      if (v.profile) await printProfile(`${name} ${what}`, fn);
      console.log(
        `${name.padEnd(8)}${what.padEnd(9)}${String(batch).padStart(6)}${String(seq).padStart(5)}` +
          `${ms.toFixed(0).padStart(10)}${tps.toFixed(0).padStart(10)}` +
          `${`${row.minTokensPerSec.toFixed(0)}..${row.maxTokensPerSec.toFixed(0)}`.padStart(18)}` +
          `${row.peakTensorMB.toFixed(0).padStart(9)}`,
      );
    }
    disposeBatch(tb);
    ctx.optimizer.dispose();
    fpOpt.dispose();
    hvpCases.forEach((hc) => hc.dispose());
    tf.dispose([...Object.values(teacher), ...Object.values(fpVars), ...Object.values(student)]);
  }
  const prev = existsSync(out) ? JSON.parse(readFileSync(out, 'utf8')) : [];
  prev.push({
    date: new Date().toISOString(),
    git: gitCommit(),
    backend: info.backend,
    threads: info.threads,
    machine: info.machine,
    versions: info.versions,
    rows,
  });
  atomicWriteJson(out, prev);
  console.log(`# appended to ${out}`);
});
