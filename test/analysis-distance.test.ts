import test from 'ava';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend/backend.js';
import { coverLengthRatio, headDistances, rankingLoss, rowKl } from '../src/analysis/distance.js';
import { attentionOutputRange } from '../src/analysis/range.js';
import { classMasks, exampleNorms, firstIndexOf } from '../src/analysis/norm-analysis.js';
import { kobayashiNorms } from '../src/model/norms.js';

test.before(async () => {
  await initBackend(process.env.KDQAT_BACKEND ?? 'cpu', { quiet: true });
});

/** random row-stochastic maps [H][n][n] */
function maps(H: number, n: number, seed: number): number[][][] {
  return tf.tidy(
    () => tf.softmax(tf.mul(tf.randomNormal([H, n, n], 0, 1, 'float32', seed), 2)).arraySync() as number[][][],
  );
}

// The notebook's loops, written out literally.
function naiveRanking(S: number[][], T: number[][]): number {
  const n = S.length;
  let loss = 0;
  for (let r = 0; r < n; r++)
    for (let i = 0; i < n - 1; i++)
      for (let j = 1; j < n; j++) {
        loss += Math.max(0, -(S[r][j] - S[r][i]) * Math.sign(T[r][j] - T[r][i]));
      }
  return loss;
}
function naiveCover(S: number[][], T: number[][], k = 5): number {
  const n = S.length;
  let sum = 0;
  for (let r = 0; r < n - 1; r++) {
    const tTop = [...T[r].keys()].sort((a, b) => T[r][b] - T[r][a]).slice(0, k);
    const sOrder = [...S[r].keys()].sort((a, b) => S[r][b] - S[r][a]);
    const posMax = Math.max(...tTop.map((j) => sOrder.indexOf(j)));
    sum += posMax / n;
  }
  return sum / n;
}
function naiveKl(S: number[][], T: number[][]): number {
  const n = S.length;
  let kl = 0;
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      const p = Math.max(T[i][j], 1e-8),
        q = Math.max(S[i][j], 1e-8);
      kl += p * (Math.log(p) - Math.log(q));
    }
  return kl / n;
}

for (const n of [2, 4, 7, 23]) {
  test(`ranking loss, cover length ratio and row KL match the notebook's loops (n = ${n})`, (t) => {
    const H = 3;
    const S = maps(H, n, n),
      T = maps(H, n, 100 + n);
    const s = tf.tensor3d(S),
      tt = tf.tensor3d(T);
    const rk = rankingLoss(s, tt).arraySync(),
      cv = coverLengthRatio(s, tt).arraySync(),
      kl = rowKl(s, tt).arraySync();
    for (let h = 0; h < H; h++) {
      const want = naiveRanking(S[h], T[h]);
      t.true(Math.abs(rk[h] - want) <= 1e-5 * Math.max(1, Math.abs(want)), `ranking h${h}: ${rk[h]} vs ${want}`);
      t.true(Math.abs(cv[h] - naiveCover(S[h], T[h])) < 1e-6, `cover h${h}: ${cv[h]} vs ${naiveCover(S[h], T[h])}`);
      t.true(Math.abs(kl[h] - naiveKl(S[h], T[h])) < 1e-5, `kl h${h}`);
    }
    tf.dispose([s, tt]);
  });
}

test('identical maps: zero ranking loss and KL; cover length is the minimum (k-1)(n-1)/n^2', (t) => {
  const n = 9;
  const P = tf.tensor3d(maps(2, n, 5));
  t.deepEqual(Array.from(rankingLoss(P, P).dataSync()), [0, 0]);
  for (const v of rowKl(P, P).dataSync()) t.true(Math.abs(v) < 1e-6);
  for (const v of coverLengthRatio(P, P).dataSync()) t.true(Math.abs(v - (4 * (n - 1)) / (n * n)) < 1e-6);
});

test('ranking loss over long sequences is chunked without changing the result', (t) => {
  const n = 140,
    H = 4; // 4 * 139^2 * 140 > one chunk
  const S = tf.tensor3d(maps(H, n, 1)),
    T = tf.tensor3d(maps(H, n, 2));
  const all = rankingLoss(S, T).arraySync();
  const perHead = Array.from(
    { length: H },
    (_, h) => rankingLoss(S.slice([h, 0, 0], [1, n, n]), T.slice([h, 0, 0], [1, n, n])).arraySync()[0],
  );
  all.forEach((v, h) => t.true(Math.abs(v - perHead[h]) < 1e-3 * Math.abs(v)));
  const s0 = (S.arraySync() as number[][][])[0],
    t0 = (T.arraySync() as number[][][])[0];
  t.true(Math.abs(all[0] - naiveRanking(s0, t0)) < 1e-4 * Math.abs(all[0]));
});

test('headDistances slices example b and the first n positions of every layer', async (t) => {
  const S = tf.tensor4d([maps(2, 6, 1), maps(2, 6, 2)]),
    T = tf.tensor4d([maps(2, 6, 3), maps(2, 6, 4)]);
  const d = await headDistances([S, T], [T, S], 1, 4);
  const s1 = (S.arraySync() as number[][][][])[1].map((m) => m.slice(0, 4).map((r) => r.slice(0, 4)));
  const t1 = (T.arraySync() as number[][][][])[1].map((m) => m.slice(0, 4).map((r) => r.slice(0, 4)));
  t.true(Math.abs(d.rankingLoss[0][1] - naiveRanking(s1[1], t1[1])) < 1e-5);
  t.true(Math.abs(d.rankingLoss[1][0] - naiveRanking(t1[0], s1[0])) < 1e-5);
  await t.throwsAsync(() => headDistances([S], [T], 0, 7), { message: /outside/ });
});

test('attention-output range: min and max over the hidden dim per token', async (t) => {
  const a = tf.randomNormal([2, 5, 8], 0, 1, 'float32', 3) as tf.Tensor3D;
  const r = await attentionOutputRange([a], 1, 3);
  const x = (a.arraySync() as number[][][])[1];
  t.deepEqual(
    r.min[0],
    x.slice(0, 3).map((row) => Math.fround(Math.min(...row))),
  );
  t.deepEqual(
    r.max[0],
    x.slice(0, 3).map((row) => Math.fround(Math.max(...row))),
  );
});

test('norm analysis: per-head values at a token and token-class means match loops', async (t) => {
  const H = 2,
    n = 6,
    dh = 3,
    D = H * dh;
  const ids = [101, 7, 1010, 102, 9, 102];
  const probs = tf.softmax(tf.randomNormal([1, H, n, n], 0, 1, 'float32', 1)) as tf.Tensor4D;
  const v = tf.randomNormal([1, H, n, dh], 0, 1, 'float32', 2);
  const wo = tf.randomNormal([D, D], 0, 1, 'float32', 3);
  const nm = kobayashiNorms(probs, v, wo);
  const sep = firstIndexOf(ids, 102);
  t.is(sep, 3);
  const ex = await exampleNorms([probs], [nm], ids, sep, { cls: 101, sep: 102, punct: [1010, 1012] });
  const A = (probs.arraySync() as number[][][][])[0],
    F = (nm.fx.arraySync() as number[][][])[0];
  const AF = (nm.afx.arraySync() as number[][][][])[0],
    SA = (nm.sumAfx.arraySync() as number[][][])[0];
  for (let h = 0; h < H; h++) {
    t.true(Math.abs(ex.heads.prob[0][h] - A[h].reduce((s, row) => s + row[sep], 0) / n) < 1e-6);
    t.true(Math.abs(ex.heads.fx[0][h] - F[h][sep]) < 1e-5);
    t.true(Math.abs(ex.heads.afx[0][h] - Math.hypot(...AF[h][sep])) < 1e-5);
  }
  const m = classMasks(ids, { cls: 101, sep: 102, punct: [1010, 1012] });
  t.deepEqual(Array.from(m.SEP), [0, 0, 0, 1, 0, 1]);
  t.deepEqual(Array.from(m.other), [0, 1, 0, 0, 1, 0]);
  const keys = [3, 5];
  let a = 0,
    f = 0,
    s = 0;
  for (let h = 0; h < H; h++)
    for (const j of keys) {
      f += F[h][j];
      for (let i = 0; i < n; i++) a += A[h][i][j];
    }
  for (const j of keys) for (let i = 0; i < n; i++) s += SA[i][j];
  t.true(Math.abs(ex.classes.SEP.alpha[0] - a / (H * n * 2)) < 1e-6);
  t.true(Math.abs(ex.classes.SEP.fx[0] - f / (H * 2)) < 1e-5);
  t.true(Math.abs(ex.classes.SEP.sumAfx[0] - s / (n * 2)) < 1e-5);
  t.true(Math.abs(ex.classes.all.alpha[0] - 1 / n) < 1e-6); // rows sum to 1
  const noPunct = await exampleNorms([probs], [nm], [101, 7, 8, 102, 9, 102], 0, { cls: 101, sep: 102, punct: [1010] });
  t.true(Number.isNaN(noPunct.classes.punct.alpha[0]));
});
