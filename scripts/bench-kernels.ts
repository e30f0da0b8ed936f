/**
 * GFLOP/s of the wasm matrix products of a BERT training step, tfjs' stock BatchMatMul vs ours (wasm-matmul.ts),
 * plus one forward+backward step of a small BERT encoder with all of tfjs' stock wasm kernels vs with all of ours,
 * and the same step on the cpu backend with tfjs' JS kernels vs with the heavy kernels computed by wasm
 * (wasm-bridge.ts).
 *
 *   npx tsx scripts/bench-kernels.ts [--reps 5] [--quick] [--no-step] [--no-cpu]
 *   KDQAT_WASM_THREADS=2 npx tsx scripts/bench-kernels.ts     # threaded-SIMD wasm (see src/backend/wasm-threads.ts)
 *
 * Each figure is the median of --reps timed runs after one warm-up run. The machine's load average is printed:
 * other processes on the same cores make every figure lower and noisier.
 */
import * as tf from '@tensorflow/tfjs';
import { loadavg } from 'node:os';
import { initBackend } from '../src/backend/backend.js';
import { ourKernels, useKernel } from '../src/backend/wasm-registry.js';
import { BRIDGED_KERNELS, enableWasmBridge } from '../src/backend/wasm-bridge.js';

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const opt = (name: string, dflt: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const REPS = opt('--reps', 5);
if (!Number.isInteger(REPS) || REPS < 1)
  throw new Error(`--reps must be a positive integer, got ${args[args.indexOf('--reps') + 1]}`);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

/** median ms of f over REPS runs after a warm-up (wasm kernels run synchronously inside the op call) */
function timeMs(f: () => void, reps = REPS): number {
  f();
  const ts: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    f();
    ts.push(performance.now() - t0);
  }
  return median(ts);
}

interface Product {
  label: string;
  a: number[];
  b: number[];
  ta: boolean;
  tb: boolean;
  flops: number;
}

/** The products of one encoder layer's forward and backward pass at batch B, sequence T, hidden D, head size 64. */
function products(B: number, T: number, D: number): Product[] {
  const M = B * T,
    H = D / 64,
    BH = B * H,
    dh = 64,
    F = 4 * D;
  const p = (
    label: string,
    a: number[],
    b: number[],
    ta: boolean,
    tb: boolean,
    m: number,
    k: number,
    n: number,
    batch = 1,
  ): Product => ({ label, a, b, ta, tb, flops: 2 * m * k * n * batch });
  return [
    p(`x W        [${M},${D}]x[${D},${D}]`, [M, D], [D, D], false, false, M, D, D),
    p(`dY W^T     [${M},${D}]x[${D},${D}]^T`, [M, D], [D, D], false, true, M, D, D),
    p(`X^T dY     [${M},${D}]^T x[${M},${D}]`, [M, D], [M, D], true, false, D, M, D),
    p(`x W1       [${M},${D}]x[${D},${F}]`, [M, D], [D, F], false, false, M, D, F),
    p(`dY W1^T    [${M},${F}]x[${D},${F}]^T`, [M, F], [D, F], false, true, M, F, D),
    p(`X^T dY1    [${M},${D}]^T x[${M},${F}]`, [M, D], [M, F], true, false, D, M, F),
    p(`Q K^T      [${BH},${T},${dh}]x[..]^T`, [BH, T, dh], [BH, T, dh], false, true, T, dh, T, BH),
    p(`P V        [${BH},${T},${T}]x[${BH},${T},${dh}]`, [BH, T, T], [BH, T, dh], false, false, T, T, dh, BH),
    p(`P^T dO     [${BH},${T},${T}]^T x[..,${dh}]`, [BH, T, T], [BH, T, dh], true, false, T, T, dh, BH),
    p(`dS^T Q     [${BH},${T},${T}]^T x[..,${dh}]`, [BH, T, T], [BH, T, dh], true, false, T, T, dh, BH),
  ];
}

/**
 * GFLOP/s of one product, stock vs ours. Every run gets a fresh copy of b: in training the weights are new tensors
 * each step (quantized, updated), and the stock kernel would otherwise reuse the XNNPACK weights it packed for b.
 */
function benchProduct(pr: Product): { stock: number; ours: number; err: number } {
  const a = tf.randomNormal(pr.a),
    b = tf.randomNormal(pr.b);
  const gf: Record<string, number> = {};
  const outs: Record<string, Float32Array> = {};
  for (const v of ['stock', 'ours'] as const) {
    useKernel('wasm', 'BatchMatMul', v);
    const reps = v === 'stock' ? Math.min(REPS, 3) : REPS; // the stock scalar loop is slow: fewer reps
    const bs = Array.from({ length: reps + 1 }, () => tf.clone(b));
    let i = 0;
    gf[v] = pr.flops / timeMs(() => tf.matMul(a, bs[i++], pr.ta, pr.tb).dispose(), reps) / 1e6;
    tf.dispose(bs);
    outs[v] = tf.tidy(() => tf.matMul(a, b, pr.ta, pr.tb).dataSync() as Float32Array);
  }
  useKernel('wasm', 'BatchMatMul', 'ours');
  let d = 0,
    n = 0;
  for (let i = 0; i < outs.ours.length; i++) {
    d += (outs.ours[i] - outs.stock[i]) ** 2;
    n += outs.stock[i] ** 2;
  }
  a.dispose();
  b.dispose();
  return { stock: gf.stock, ours: gf.ours, err: Math.sqrt(d / n) };
}

/** A small BERT encoder: params and a loss (mean squared output), forward + backward through every product kind. */
export function encoderStep(B: number, T: number, D: number, layers: number, V = 30522) {
  const H = D / 64,
    dh = 64,
    F = 4 * D;
  const init = (shape: number[]) => tf.mul(tf.randomNormal(shape), 0.02);
  const params: tf.Tensor[] = [init([V, D])];
  for (let l = 0; l < layers; l++)
    params.push(init([D, 3 * D]), init([D, D]), init([D, F]), init([F, D]), tf.ones([D]), tf.ones([D]));
  const ids = tf.tensor2d(
    Int32Array.from({ length: B * T }, (_, i) => (i * 7919) % V),
    [B, T],
    'int32',
  );
  const ln = (x: tf.Tensor, g: tf.Tensor) => {
    const d = tf.sub(x, tf.mean(x, -1, true));
    return tf.mul(tf.mul(d, tf.rsqrt(tf.add(tf.mean(tf.square(d), -1, true), 1e-12))), g);
  };
  const heads = (x: tf.Tensor) => tf.transpose(tf.reshape(x, [B, T, H, dh]), [0, 2, 1, 3]);
  const loss = (...p: tf.Tensor[]) => {
    let x = tf.reshape(tf.gather(p[0], ids), [B * T, D]);
    for (let l = 0; l < layers; l++) {
      const [wqkv, wo, w1, w2, g1, g2] = p.slice(1 + 6 * l, 7 + 6 * l);
      const [q, k, v] = tf.split(tf.matMul(x, wqkv), 3, -1).map(heads);
      const att = tf.softmax(tf.div(tf.matMul(q, k, false, true), Math.sqrt(dh)));
      const ctx = tf.reshape(tf.transpose(tf.matMul(att, v), [0, 2, 1, 3]), [B * T, D]);
      x = ln(tf.add(x, tf.matMul(ctx, wo)), g1);
      const h = tf.matMul(x, w1);
      const gelu = tf.mul(tf.mul(h, 0.5), tf.add(1, tf.erf(tf.div(h, Math.SQRT2))));
      x = ln(tf.add(x, tf.matMul(gelu, w2)), g2);
    }
    return tf.mean(tf.square(x)) as tf.Scalar;
  };
  const g = tf.grads(loss);
  return {
    run: () =>
      tf.tidy(() => {
        g(params).forEach((t) => t.dataSync());
      }),
    dispose: () => {
      tf.dispose(params);
      ids.dispose();
    },
  };
}

async function main() {
  const info = await initBackend('wasm', { quiet: true });
  const cases = flag('--quick')
    ? [[16, 128, 128]]
    : [
        [16, 128, 128],
        [32, 128, 128],
        [16, 128, 256],
        [32, 128, 256],
      ];
  console.log(
    `wasm backend, ${info.threads} thread(s), ${info.machine.cores}x ${info.machine.cpus}; load average ${loadavg()
      .map((v) => v.toFixed(2))
      .join(' ')}`,
  );
  console.log(`median of ${REPS} runs (stock: ${Math.min(REPS, 3)})\n`);
  console.log(
    `${'B,T,D'.padEnd(12)} ${'product'.padEnd(38)} ${'stock GF/s'.padStart(10)} ${'ours GF/s'.padStart(10)} ` +
      `${'speed-up'.padStart(8)}  rel.diff`,
  );
  for (const [B, T, D] of cases) {
    for (const pr of products(B, T, D)) {
      const r = benchProduct(pr);
      console.log(
        `${`${B},${T},${D}`.padEnd(12)} ${pr.label.padEnd(38)} ${r.stock.toFixed(2).padStart(10)} ` +
          `${r.ours.toFixed(2).padStart(10)} ${(r.ours / r.stock).toFixed(1).padStart(7)}x  ${r.err.toExponential(1)}`,
      );
    }
  }
  if (!flag('--no-step')) {
    const [B, T, D, L] = [32, 128, 128, 2];
    console.log(
      `\nencoder forward+backward, ${L} layers, hidden ${D}, ${D / 64} heads, FF ${4 * D}, batch ${B}x${T}, vocab ` +
        `30522:`,
    );
    const step = encoderStep(B, T, D, L);
    const ms: Record<string, number> = {};
    // every kernel we replaced (UnsortedSegmentSum has no stock wasm kernel: ours in both runs)
    const replaced = ourKernels('wasm')
      .filter((k) => k.replaced)
      .map((k) => k.kernelName);
    console.log(`  (stock: tfjs' own ${replaced.join(', ')})`);
    for (const v of ['stock', 'ours'] as const) {
      for (const k of replaced) useKernel('wasm', k, v);
      ms[v] = timeMs(step.run, v === 'stock' ? 1 : Math.min(REPS, 3));
      console.log(
        `  ${v.padEnd(6)} ${ms[v].toFixed(0).padStart(7)} ms/step  ` +
          `${(((B * T) / ms[v]) * 1000).toFixed(0).padStart(6)} tokens/s`,
      );
    }
    for (const k of replaced) useKernel('wasm', k, 'ours');
    console.log(`  speed-up ${(ms.stock / ms.ours).toFixed(1)}x`);
    step.dispose();
  }
  if (!flag('--no-step') && !flag('--no-cpu')) {
    const [B, T, D, L] = [8, 128, 128, 2];
    await tf.setBackend('cpu');
    if (!(await enableWasmBridge())) throw new Error('the wasm bridge did not start');
    console.log(`\ncpu backend, the same encoder at batch ${B}x${T} (UnsortedSegmentSum: our scatter-add in both):`);
    const step = encoderStep(B, T, D, L);
    const ms: Record<string, number> = {};
    for (const v of ['stock', 'ours'] as const) {
      for (const k of BRIDGED_KERNELS) useKernel('cpu', k, v);
      ms[v] = timeMs(step.run, 1);
      console.log(
        `  ${v === 'stock' ? 'tfjs cpu kernels' : 'wasm-bridged   '} ${ms[v].toFixed(0).padStart(7)} ms/step  ` +
          `${(((B * T) / ms[v]) * 1000).toFixed(0).padStart(6)} tokens/s`,
      );
    }
    console.log(`  speed-up ${(ms.stock / ms.ours).toFixed(1)}x`);
    step.dispose();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
