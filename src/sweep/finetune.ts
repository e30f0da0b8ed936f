/**
 * Teacher fine-tuning (`npm run finetune`): a full-precision BERT trained on a task's labels, saved with its resolved
 * config, a JSONL log and metrics.json with full provenance; all writes are atomic.
 */
import * as tf from '@tensorflow/tfjs';
import { existsSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { loadBertDir, saveBertDir } from '../model/checkpoint.js';
import { BERT_DEFAULTS, BERT_PRESETS, bertConfigFrom, type BertConfig } from '../model/config.js';
import { initParams } from '../model/init.js';
import { getTask } from '../data/tasks.js';
import { loadTokenizer, tokenizerFromVocabText, type GlueTokenizer } from '../data/tokenizer.js';
import { readExamples } from '../data/tasks.js';
import { buildWordPieceVocab } from '../data/wordpiece-vocab.js';
import { ensureGlueTask } from '../data/first-use.js';
import { assertFitsBackend } from '../backend/backend.js';
import { atomicWrite, atomicWriteJson } from '../util/fsx.js';
import { provenance } from '../backend/provenance.js';
import type { ResolvedConfig } from '../train/config.js';
import { clearState } from '../train/state.js';
import { teacherWarning } from '../train/teacher-health.js';
import type { ProgressInfo } from '../train/trainer.js';
import { finetuneTraining } from '../train/methods.js';
import { filesSha256, finetuneRecord, runIdentity, teacherSha256 } from './identity.js';
import { UserError } from '../util/errors.js';

import { claimRunDir, loadData, MODELS_DIR, summary, teacherDir, estimateTrainBytes } from './run-setup.js';

/** Fine-tuning from scratch needs a larger step than the QAT recipe's 2e-5. */
export const SCRATCH_LR = 1e-4;

export interface FinetuneOptions {
  cfg: ResolvedConfig;
  bert: string;
  vocab?: string;
  out?: string;
  log?: (s: string) => void;
  onProgress?: (p: ProgressInfo) => void;
  /** replace a teacher already in `out` (default: refused) */
  overwrite?: boolean;
}

/** The teacher folder of a finetune: refused when it holds a teacher already, unless `overwrite`. */
export function finetuneTarget(bert: string, task: string, out?: string, overwrite = false): string {
  const dir = out ?? teacherDir(BERT_PRESETS[bert] ? bert : basename(resolve(bert)), getTask(task).name);
  if (!overwrite && existsSync(join(dir, 'model.safetensors')))
    throw new UserError(
      `${dir} holds a teacher already; it is kept. Pass --overwrite to replace it, or --out DIR for a new folder`,
    );
  return dir;
}

/**
 * Fine-tune a full-precision teacher. `bert` is a Hugging Face BERT directory, or a preset name (tiny, mini,
 * small, base, large): models/<preset>/ with pretrained weights is used when present, otherwise the model is
 * initialised from scratch (said loudly, and recorded in kdqat.json).
 */
export async function finetune(o: FinetuneOptions): Promise<{ dir: string; metrics: Record<string, unknown> }> {
  const log = o.log ?? ((s: string) => console.error(s));
  const task = getTask(o.cfg.task);
  const bertName = BERT_PRESETS[o.bert] ? o.bert : basename(resolve(o.bert));
  const outDir = finetuneTarget(o.bert, task.name, o.out, o.overwrite);
  const presetDir = join(MODELS_DIR(), o.bert);
  const pretrainedDir = BERT_PRESETS[o.bert]
    ? existsSync(join(presetDir, 'model.safetensors'))
      ? presetDir
      : null
    : resolve(o.bert);
  await ensureGlueTask(task, o.cfg.data.glueDir, log); // data on first use (a sweep has fetched it already)
  let config: BertConfig,
    params: Record<string, tf.Tensor>,
    tok: GlueTokenizer,
    vocabText: string | null = null,
    init: string;
  if (pretrainedDir) {
    const m = loadBertDir(pretrainedDir, { numLabels: task.numLabels, initMissingHead: { seed: o.cfg.seed } });
    if (m.config.num_labels !== task.numLabels)
      throw new Error(
        `${pretrainedDir}/config.json: num_labels ${m.config.num_labels} but task ${task.name} needs ${task.numLabels}`,
      );
    const tokFile = o.vocab ?? m.tokenizerFile;
    if (!tokFile) throw new Error(`${pretrainedDir}: no tokenizer.json or vocab.txt (pass --vocab)`);
    ({ config, params } = m);
    tok = loadTokenizer(tokFile);
    init = `pretrained weights from ${pretrainedDir}`;
    for (const n of m.notes) log(`note: ${n}`);
  } else {
    if (o.vocab) tok = loadTokenizer(o.vocab);
    else {
      const ex = readExamples({ task, split: 'train', glueDir: o.cfg.data.glueDir ?? undefined });
      const vocab = buildWordPieceVocab(ex.examples.flatMap((e) => (e.textB ? [e.textA, e.textB] : [e.textA])));
      vocabText = vocab.join('\n') + '\n';
      tok = tokenizerFromVocabText(vocabText, `vocab built from ${task.name} train`);
      log(
        `built a ${vocab.length}-piece WordPiece vocabulary from ${ex.examples.length} ${task.name} training examples`,
      );
    }
    const maxLen = Math.max(512, o.cfg.data.maxSeqLen);
    config = bertConfigFrom(
      {
        ...BERT_DEFAULTS,
        ...BERT_PRESETS[o.bert],
        vocab_size: tok.vocabSize,
        num_labels: task.numLabels,
        max_position_embeddings: maxLen,
      },
      `preset ${o.bert}`,
    );
    params = initParams(config, o.cfg.seed);
    init = 'FROM SCRATCH (random initialisation, no pre-training)';
    log(
      `\n*** WARNING: no pretrained weights for "${o.bert}" in ${presetDir}: ` +
        `the teacher is trained FROM SCRATCH on ${task.name}. ***\n` +
        "*** Its accuracy is far below a pre-trained BERT's; " +
        `put a Hugging Face checkpoint in ${presetDir} to use one. ***\n`,
    );
  }
  const data = loadData(o.cfg, tok, log);
  assertFitsBackend(
    estimateTrainBytes(config, o.cfg.data.batchSize, o.cfg.data.maxSeqLen, 1),
    `fine-tuning ${bertName}`,
  );
  const runDir = join(outDir, '.finetune');
  const source =
    `${pretrainedDir ? teacherSha256(pretrainedDir) : `preset ${o.bert} from scratch`}; ` +
    `vocab ${o.vocab ? filesSha256([o.vocab]).slice(0, 16) : 'default'}`;
  const tcfg = finetuneRecord(o.cfg, o.bert);
  claimRunDir(
    runDir,
    runIdentity(o.cfg, 'finetune', source),
    { mode: 'finetune', bert: o.bert, ...tcfg },
    o.overwrite === true,
    log,
  );
  const t0 = performance.now();
  const out = await finetuneTraining({
    cfg: o.cfg,
    runDir,
    model: config,
    init: params,
    task: data.task,
    train: data.train,
    dev: data.dev,
    onProgress: o.onProgress,
    log,
  });
  const last = out.last;
  const warning = last ? teacherWarning(data.task, last.metrics, out.lastPredicted, data.dev.labels) : null;
  if (warning) log(`WARNING: ${warning}`);
  const metrics = summary(out, tcfg, performance.now() - t0, { init, ...(warning ? { warning } : {}) });
  await saveBertDir(outDir, config, out.params, {
    kind: 'teacher',
    task: task.name,
    bert: o.bert,
    init,
    metrics,
    config: tcfg,
    ...provenance(),
  });
  if (vocabText !== null) atomicWrite(join(outDir, 'vocab.txt'), vocabText);
  else if (!existsSync(join(outDir, 'tokenizer.json')) && !existsSync(join(outDir, 'vocab.txt')))
    atomicWrite(join(outDir, basename(tok.source)), readFileSync(tok.source));
  atomicWriteJson(join(outDir, 'metrics.json'), metrics);
  clearState(runDir);
  tf.dispose([...Object.values(params), ...Object.values(out.params)]);
  return { dir: outDir, metrics };
}
