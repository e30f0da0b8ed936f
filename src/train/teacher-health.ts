/**
 * A teacher that learnt nothing: its dev predictions are a single class, or its dev score is at the majority-class
 * (chance) level of the task. Distilling from it is pointless, so it is said loudly: in the terminal, in
 * metrics.json ("warning") and at the top of the sweep report. Classification tasks only.
 */
import type { MetricDict } from '../data/metrics.js';
import type { TaskSpec } from '../data/tasks.js';

/** How many dev predictions fell in each class. */
export function classCounts(preds: ArrayLike<number>, numLabels: number): number[] {
  const c = new Array<number>(numLabels).fill(0);
  for (let i = 0; i < preds.length; i++) c[preds[i]]++;
  return c;
}

/** The warning for a degenerate teacher, or null. `predicted`: its dev prediction counts per class. */
export function teacherWarning(
  task: TaskSpec,
  metrics: MetricDict,
  predicted: number[] | undefined,
  labels: ArrayLike<number>,
): string | null {
  if (task.outputMode !== 'classification' || !predicted || labels.length === 0) return null;
  const n = labels.length;
  const name = (k: number) => task.labels?.[k] ?? String(k);
  const used = predicted.map((c, k) => [c, k]).filter(([c]) => c > 0);
  if (used.length === 1)
    return (
      `the teacher predicts a single class ("${name(used[0][1])}") for all ${n} dev examples: it has learnt ` +
      `nothing to distil`
    );
  const majority = Math.max(...classCounts(labels, task.numLabels)) / n;
  if (metrics.acc !== undefined && metrics.acc <= majority + 1e-12)
    return (
      `the teacher's dev accuracy ${metrics.acc.toFixed(4)} is at or below the majority-class level ` +
      `${majority.toFixed(4)} of these ${n} examples: it has learnt nothing to distil`
    );
  if (metrics.mcc !== undefined && metrics.mcc <= 0)
    return `the teacher's dev MCC ${metrics.mcc.toFixed(4)} is at chance level (<= 0): it has learnt nothing to distil`;
  return null;
}
