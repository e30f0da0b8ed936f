/**
 * restore (ModelOpt's mto.restore): a student from a file written by save(), a KD-QAT run folder or a student
 * folder of one. A run's student carries the dev evaluation that scored it in its run (docs/students.md).
 */
import * as tf from '@tensorflow/tfjs';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { BertConfig } from '../model/config.js';
import { CheckpointError, loadBertDir } from '../model/checkpoint.js';
import { makeQuantHooks, type QuantConfig } from '../quant/plan.js';
import { resolveCompression } from '../distill/config.js';
import { quantizedStudent } from '../distill/quantize.js';
import { quantizerState, restoreSaved, type RestoredStudent } from '../distill/save.js';
import { describeScore, resolveStudent, type Which } from '../distill/students.js';
import { mainMetric } from '../data/metrics.js';

export interface RestoreOptions {
  /** refuse another architecture */
  model?: BertConfig;
  /**
   * of a KD-QAT run folder: 'best' (default: student/, the weights of its best evaluation) or 'last'
   * (student-last/, the final weights)
   */
  which?: Which;
  /** where the restored student's recorded metric is said (default: stderr); pass () => {} for silence */
  log?: (s: string) => void;
}

/**
 * Rebuild a saved student: same weights, same quantizers, so the same outputs. `path` is a file written by save(),
 * a KD-QAT run folder (its best student, or opts.which 'last') or a student folder written by `npm run qat`.
 * A run's student carries `score`, the dev evaluation that scored these weights in their run (docs/students.md).
 */
export function restore(path: string, opts: RestoreOptions = {}): RestoredStudent {
  if (existsSync(path) && statSync(path).isDirectory()) return restoreStudentDir(path, opts);
  try {
    return restoreSaved(path, opts.model);
  } catch (e) {
    // the model.safetensors of a student folder written by `npm run qat`: restore the folder
    if (
      e instanceof CheckpointError &&
      /not a kdqat compressed student/.test(e.message) &&
      existsSync(join(dirname(path), 'kdqat.json'))
    )
      return restoreStudentDir(dirname(path), opts);
    throw e;
  }
}

/** A student folder of a KD-QAT run (config.json, model.safetensors, kdqat.json with its quantizer settings). */
function restoreStudentDir(path: string, opts: RestoreOptions): RestoredStudent {
  const st = resolveStudent(path, opts.which ?? 'best');
  const quant = resolveCompression(studentQuantConfig(st.dir)).quant;
  const m = loadBertDir(st.dir);
  if (opts.model) {
    const diff = (Object.keys(m.config) as (keyof BertConfig)[]).filter((k) => m.config[k] !== opts.model![k]);
    if (diff.length) {
      tf.dispose(Object.values(m.params));
      throw new CheckpointError(
        `${st.dir}: another architecture: ` +
          diff.map((k) => `${k} ${m.config[k]} in the folder, ${opts.model![k]} expected`).join('; '),
      );
    }
  }
  const s = quantizedStudent(m.config, m.params, quant, makeQuantHooks(quant));
  const log = opts.log ?? ((x: string) => console.error(x));
  const metric =
    typeof m.provenance?.task === 'string'
      ? mainMetric(m.provenance.task)
      : st.score
        ? Object.keys(st.score.metrics)[0]
        : '';
  if (st.note) log(`restore: note: ${st.note}`);
  log(`restore: ${st.score ? describeScore(st.score, metric) : 'no recorded evaluation of these weights'} (${st.dir})`);
  return {
    ...s,
    kd: null,
    step: st.score?.step ?? null,
    quantizerState: quantizerState(m.config, m.params, quant),
    score: st.score,
  };
}

/** The quantizer settings recorded in a student folder's kdqat.json. */
function studentQuantConfig(dir: string): Partial<QuantConfig> {
  const p = join(dir, 'kdqat.json');
  let prov: { quant?: Partial<QuantConfig> } = {};
  try {
    prov = JSON.parse(readFileSync(p, 'utf8'));
  } catch (e) {
    throw new CheckpointError(
      `${dir}: not a kdqat student ` +
        `(${existsSync(p) ? `${p}: ${(e as Error).message}` : 'no kdqat.json with its quantizer settings'})`,
    );
  }
  if (!prov.quant || typeof prov.quant !== 'object')
    throw new CheckpointError(`${p}: no "quant" settings (not a KD-QAT student?)`);
  return prov.quant;
}
