/**
 * Fixture checks of the analysis modules (ANALYSIS_GROUPS, passed to verifyModels by src/cli/verify.ts):
 * - "analysis": analysis.ranking_loss / cover_length_ratio [L*H] (student vs teacher probs of example 0, all T
 *   positions, layer-major) and analysis.range_min/max.{i} [T] (student attention output of example 0);
 * - "hessian": hessian.{teacher,student}.top [2], the two largest-magnitude eigenvalues of the Hessian loss
 *   (src/analysis/hessian.ts) on the fixture's whole batch. The reference ran power iteration with deflation to
 *   relative tolerance 1e-7; pairs of nearly equal magnitude (73.2 / -72.6) make that take thousands of products,
 *   so the check computes the same eigenvalues with Lanczos (full reorthogonalisation) on the same exact Hv.
 */
import * as tf from '@tensorflow/tfjs';
import type { BertOutputs } from '../model/bert.js';
import { QUANT_DEFAULTS } from '../quant/plan.js';
import { headDistances } from '../analysis/distance.js';
import { attentionOutputRange } from '../analysis/range.js';
import { BertHessian } from '../analysis/hessian.js';
import { lanczos, topByMagnitude } from '../analysis/eigen.js';
import { forwards, type CheckGroup, type ModelFixture } from './models.js';
import type { Report } from './report.js';

const fixtureForwards = (fx: ModelFixture) =>
  tf.tidy(() => forwards(fx) as unknown as tf.TensorContainer) as unknown as {
    teacher: BertOutputs;
    student: BertOutputs;
  };

const analysisGroup: CheckGroup = {
  name: 'analysis',
  claims: (k) => k.startsWith('analysis.'),
  async run(fx, keys, report: Report) {
    const { teacher, student } = fixtureForwards(fx);
    const T = fx.batch.inputIds.shape[1];
    const dist = await headDistances(student.probs, teacher.probs, 0, T);
    const range = await attentionOutputRange(student.attnOutput, 0, T);
    tf.dispose([teacher, student] as unknown as tf.TensorContainer);
    for (const key of keys) {
      const ref = fx.ref.get(key)!;
      const m = /^analysis\.range_(min|max)\.(\d+)$/.exec(key);
      if (key === 'analysis.ranking_loss')
        report.compare(fx.name, key, dist.rankingLoss.flat(), ref.data, 1e-3, 'rel', [
          [dist.rankingLoss.flat().length],
          ref.shape,
        ]);
      else if (key === 'analysis.cover_length_ratio')
        report.compare(fx.name, key, dist.coverLengthRatio.flat(), ref.data, 0.02, 'abs', [
          [dist.coverLengthRatio.flat().length],
          ref.shape,
        ]);
      else if (m) {
        const v = range[m[1] as 'min' | 'max'][Number(m[2])];
        if (!v) report.fail(fx.name, key, `no layer ${m[2]}`);
        else report.compare(fx.name, key, v, ref.data, 1e-3, 'rel', [[v.length], ref.shape]);
      } else report.skip(fx.name, key, 'unknown analysis key');
    }
  },
};

const hessianGroup: CheckGroup = {
  name: 'hessian',
  claims: (k) => k.startsWith('hessian.'),
  async run(fx, keys, report: Report) {
    for (const key of keys) {
      const m = /^hessian\.(teacher|student)\.top$/.exec(key);
      if (!m) {
        report.skip(fx.name, key, 'unknown hessian key');
        continue;
      }
      const ref = fx.ref.get(key)!;
      const h = new BertHessian({
        params: fx.params,
        config: fx.config,
        batches: [{ batch: fx.batch, labels: fx.kd.labels }],
        quant: m[1] === 'student' ? QUANT_DEFAULTS : undefined,
      });
      const k = ref.data.length;
      const { ritz } = lanczos(h.hv, h.shapes, { maxSteps: 60, tol: 1e-6, stableK: k, seed: 1 });
      // compare as sets ordered by magnitude (the reference lists them in the order power iteration found them)
      const ours = topByMagnitude(ritz, k);
      const theirs = topByMagnitude(Array.from(ref.data), k);
      h.dispose();
      report.compare(fx.name, key, ours, theirs, 2e-2, 'rel', [[ours.length], ref.shape]);
    }
  },
};

/** the analysis.* and hessian.* checks */
export const ANALYSIS_GROUPS: CheckGroup[] = [analysisGroup, hessianGroup];
