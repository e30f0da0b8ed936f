/** Dev-set evaluation: logits in eval mode over sequential batches -> predictions -> the task's metrics. */
import * as tf from '@tensorflow/tfjs';
import { bertForward, type Params, type QuantHooks } from '../model/bert.js';
import type { BertConfig } from '../model/config.js';
import type { Features } from '../data/features.js';
import { computeMetrics, selectionValue, type MetricDict } from '../data/metrics.js';
import type { TaskSpec } from '../data/tasks.js';
import { disposeBatch, evalBatches } from './batches.js';
import { faultPoint } from '../util/fault.js';
import { classCounts } from './teacher-health.js';

/** `predicted`: dev predictions per class (classification; for the teacher-health warning, train/teacher-health.ts) */
export interface EvalResult {
  metrics: MetricDict;
  selection: number;
  n: number;
  predicted?: number[];
}

export async function evaluate(
  params: Params,
  c: BertConfig,
  f: Features,
  task: TaskSpec,
  batchSize: number,
  quant?: QuantHooks,
  dynamicPadding = false,
): Promise<EvalResult> {
  const regression = task.outputMode === 'regression';
  const preds = regression ? new Float64Array(f.n) : new Int32Array(f.n);
  let off = 0;
  for (const b of evalBatches(f, batchSize, regression, dynamicPadding)) {
    // classification: argmax over logits [b,C]; regression: the single logit
    const p = tf.tidy(() => {
      const logits = bertForward(params, c, b.batch, { training: false, quant }).logits;
      return regression ? logits.reshape([-1]) : tf.argMax(logits, -1);
    });
    preds.set(await p.data(), off);
    off += b.size;
    p.dispose();
    disposeBatch(b);
    if (off === b.size) faultPoint('eval'); // KDQAT_FAULT (src/util/fault.ts): a kill in the middle of an evaluation
  }
  const metrics = computeMetrics(task, preds, f.labels);
  return {
    metrics,
    selection: selectionValue(task, metrics),
    n: f.n,
    ...(regression ? {} : { predicted: classCounts(preds, task.numLabels) }),
  };
}
