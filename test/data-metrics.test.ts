import test from 'ava';
import {
  accuracy,
  computeMetrics,
  f1Binary,
  mainMetric,
  matthewsCorr,
  pearson,
  rankAverage,
  recordedScore,
  selectionMetric,
  selectionValue,
  spearman,
} from '../src/data/metrics.js';

const close = (a: number, b: number) => Math.abs(a - b) < 1e-12;

test('accuracy', (t) => {
  t.is(accuracy([1, 0, 1, 1], [1, 1, 1, 0]), 0.5);
  t.is(accuracy([2, 0, 1], [2, 0, 1]), 1);
  t.throws(() => accuracy([1], [1, 0]), { message: /1 predictions but 2 labels/ });
});

test('binary F1 (positive class 1) and its zero-division convention', (t) => {
  // tp=1 fp=1 fn=1 -> 2/(2+2)
  t.is(f1Binary([1, 1, 0, 0], [1, 0, 1, 0]), 0.5);
  // tp=2 fp=1 fn=0 -> 4/5
  t.is(f1Binary([1, 1, 1, 0], [1, 1, 0, 0]), 0.8);
  t.is(f1Binary([0, 0, 0], [0, 0, 0]), 0);
});

test('Matthews correlation, incl. zero denominator and multiclass', (t) => {
  // tp=2 tn=1 fp=1 fn=0: (2*1 - 1*0) / sqrt(3*2*2*1)
  t.true(close(matthewsCorr([1, 1, 1, 0], [1, 1, 0, 0]), 2 / Math.sqrt(12)));
  t.is(matthewsCorr([1, 1, 0, 0], [1, 0, 1, 0]), 0);
  t.is(matthewsCorr([1, 1, 1], [0, 1, 0]), 0);
  t.is(matthewsCorr([0, 1, 0, 1], [1, 0, 1, 0]), -1);
  // 3 classes, c=3 s=4, t=[2,1,1] p=[1,2,1]: (3*4 - (2+2+1)) / sqrt((16-6)(16-6)) = 7/10
  t.true(close(matthewsCorr([0, 1, 1, 2], [0, 0, 1, 2]), 0.7));
});

test('Pearson and Spearman (average ranks for ties)', (t) => {
  // x-mx = (-1,0,1), y-my = (-4/3,-1/3,5/3): 3 / sqrt(2 * 14/3)
  t.true(close(pearson([1, 2, 3], [1, 2, 4]), 3 / Math.sqrt(28 / 3)));
  t.deepEqual(Array.from(rankAverage([10, 20, 20, 5])), [2, 3.5, 3.5, 1]);
  // ranks (1,2.5,2.5,4) vs (1,3,2,4): 4.5 / sqrt(4.5 * 5)
  t.true(close(spearman([1, 2, 2, 3], [1, 3, 2, 4]), 4.5 / Math.sqrt(22.5)));
  t.true(Number.isNaN(pearson([1, 1, 1], [1, 2, 3])));
});

test('computeMetrics: per-task keys as the reference', (t) => {
  const p = [1, 1, 1, 0],
    l = [1, 1, 0, 0];
  t.deepEqual(Object.keys(computeMetrics('cola', p, l)), ['mcc']);
  const m = computeMetrics('mrpc', p, l);
  t.deepEqual(m, { acc: 0.75, f1: 0.8, acc_and_f1: 0.775 });
  t.deepEqual(computeMetrics('rte', p, l), { acc: 0.75 });
  const s = computeMetrics('sts-b', [1, 2, 2, 3], [1, 3, 2, 4]);
  t.deepEqual(Object.keys(s), ['pearson', 'spearmanr', 'corr']);
  t.true(close(s.corr, (s.pearson + s.spearmanr) / 2));
});

test('main metric and best-checkpoint selection (mrpc/qqp select on acc only)', (t) => {
  t.deepEqual(['cola', 'sts-b', 'mrpc', 'qqp', 'mnli', 'mnli-mm', 'sst-2'].map(mainMetric), [
    'mcc',
    'corr',
    'acc_and_f1',
    'acc_and_f1',
    'acc',
    'acc',
    'acc',
  ]);
  t.deepEqual(['cola', 'sts-b', 'mrpc', 'qqp', 'qnli'].map(selectionMetric), ['mcc', 'corr', 'acc', 'acc', 'acc']);
  const m = { acc: 0.75, f1: 0.8, acc_and_f1: 0.775 };
  t.is(selectionValue('mrpc', m), 0.75);
  t.true(close(recordedScore('mrpc', m), 77.5));
  t.throws(() => selectionValue('cola', m), { message: /lacks "mcc"/ });
});
