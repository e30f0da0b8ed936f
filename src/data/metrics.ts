/**
 * GLUE metrics as the reference's `compute_metrics` (scikit-learn / scipy conventions), in float64.
 * Classification predictions are class ids (argmax already taken); regression predictions are the squeezed logit.
 */
import { getTask, type MainMetric, type TaskSpec } from './tasks.js';

type Vec = ArrayLike<number>;

function checkLen(preds: Vec, labels: Vec): number {
  if (preds.length !== labels.length)
    throw new Error(`metrics: ${preds.length} predictions but ${labels.length} labels`);
  return preds.length;
}

/** mean(preds == labels); NaN for empty input (as sklearn warns and numpy gives nan). */
export function accuracy(preds: Vec, labels: Vec): number {
  const n = checkLen(preds, labels);
  let c = 0;
  for (let i = 0; i < n; i++) if (preds[i] === labels[i]) c++;
  return c / n;
}

/**
 * Binary F1 with positive class 1 = 2TP / (2TP + FP + FN); 0 when there is no positive at all (sklearn zero_division).
 */
export function f1Binary(preds: Vec, labels: Vec): number {
  const n = checkLen(preds, labels);
  let tp = 0,
    fp = 0,
    fn = 0;
  for (let i = 0; i < n; i++) {
    const p = preds[i] === 1,
      l = labels[i] === 1;
    if (p && l) tp++;
    else if (p) fp++;
    else if (l) fn++;
  }
  const d = 2 * tp + fp + fn;
  return d === 0 ? 0 : (2 * tp) / d;
}

/**
 * Multiclass Matthews correlation (sklearn): (c*s - sum t_k p_k) / sqrt((s^2 - sum p_k^2)(s^2 - sum t_k^2)); 0 if a
 * factor is 0.
 */
export function matthewsCorr(preds: Vec, labels: Vec): number {
  const n = checkLen(preds, labels);
  const t = new Map<number, number>(),
    p = new Map<number, number>();
  let correct = 0;
  for (let i = 0; i < n; i++) {
    t.set(labels[i], (t.get(labels[i]) ?? 0) + 1);
    p.set(preds[i], (p.get(preds[i]) ?? 0) + 1);
    if (preds[i] === labels[i]) correct++;
  }
  let tp = 0,
    pp = 0,
    tt = 0;
  for (const [k, tk] of t) {
    tp += tk * (p.get(k) ?? 0);
    tt += tk * tk;
  }
  for (const pk of p.values()) pp += pk * pk;
  const covYtYp = correct * n - tp,
    covYpYp = n * n - pp,
    covYtYt = n * n - tt;
  if (covYpYp * covYtYt === 0) return 0;
  return covYtYp / Math.sqrt(covYtYt * covYpYp);
}

/** Pearson r = sum (x-mx)(y-my) / (||x-mx|| ||y-my||), clipped to [-1, 1]; NaN if either input is constant (scipy). */
export function pearson(x: Vec, y: Vec): number {
  const n = checkLen(x, y);
  let mx = 0,
    my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i];
    my += y[i];
  }
  mx /= n;
  my /= n;
  let sxy = 0,
    sxx = 0,
    syy = 0;
  for (let i = 0; i < n; i++) {
    const a = x[i] - mx,
      b = y[i] - my;
    sxy += a * b;
    sxx += a * a;
    syy += b * b;
  }
  if (sxx === 0 || syy === 0) return NaN;
  return Math.max(-1, Math.min(1, sxy / (Math.sqrt(sxx) * Math.sqrt(syy))));
}

/** 1-based ranks with ties given their average rank (scipy.stats.rankdata 'average'). */
export function rankAverage(x: Vec): Float64Array {
  const n = x.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => x[a] - x[b]);
  const r = new Float64Array(n);
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && x[order[j + 1]] === x[order[i]]) j++;
    const avg = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) r[order[k]] = avg;
    i = j + 1;
  }
  return r;
}

/** Spearman rho = Pearson of average ranks. */
export function spearman(x: Vec, y: Vec): number {
  checkLen(x, y);
  return pearson(rankAverage(x), rankAverage(y));
}

export type MetricDict = Record<string, number>;

/**
 * The reference's per-task dict: cola {mcc}; mrpc/qqp {acc, f1, acc_and_f1}; sts-b {pearson, spearmanr, corr}; else
 * {acc}.
 */
export function computeMetrics(task: string | TaskSpec, preds: Vec, labels: Vec): MetricDict {
  const t = typeof task === 'string' ? getTask(task) : task;
  switch (t.name) {
    case 'cola':
      return { mcc: matthewsCorr(preds, labels) };
    case 'mrpc':
    case 'qqp': {
      const acc = accuracy(preds, labels),
        f1 = f1Binary(preds, labels);
      return { acc, f1, acc_and_f1: (acc + f1) / 2 };
    }
    case 'sts-b': {
      const p = pearson(preds, labels),
        s = spearman(preds, labels);
      return { pearson: p, spearmanr: s, corr: (p + s) / 2 };
    }
    default:
      return { acc: accuracy(preds, labels) };
  }
}

/** Key of the reported metric: cola mcc, sts-b corr, mrpc/qqp acc_and_f1, others acc. */
export function mainMetric(task: string | TaskSpec): MainMetric {
  return (typeof task === 'string' ? getTask(task) : task).mainMetric;
}

/** Key the reference compares for best-checkpoint selection (mrpc/qqp: acc only; sts-b corr; cola mcc; else acc). */
export function selectionMetric(task: string | TaskSpec): 'acc' | 'mcc' | 'corr' {
  const m = mainMetric(task);
  return m === 'acc_and_f1' ? 'acc' : m;
}

/** Value used for best-checkpoint selection (higher is better). */
export function selectionValue(task: string | TaskSpec, m: MetricDict): number {
  const k = selectionMetric(task);
  if (!(k in m)) throw new Error(`selectionValue: metric dict lacks "${k}" (has ${Object.keys(m).join(', ')})`);
  return m[k];
}

/** The string value the reference writes into best_info.txt: 100 x main metric, for mrpc/qqp (F1 + acc) * 50. */
export function recordedScore(task: string | TaskSpec, m: MetricDict): number {
  return mainMetric(task) === 'acc_and_f1' ? (m.f1 + m.acc) * 50 : m[mainMetric(task)] * 100;
}
