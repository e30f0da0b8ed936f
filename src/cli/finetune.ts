/**
 * npm run finetune -- --task rte --bert tiny [--vocab vocab.txt] [--epochs 3] [--lr 1e-4] [...]
 * Trains the full-precision teacher and saves it under models/<bert>/<task>/ (model.safetensors, config.json,
 * vocab, kdqat.json provenance, metrics.json). --bert is a Hugging Face BERT directory or a preset
 * (tiny, mini, small, base, large); a preset without weights in models/<preset>/ starts from scratch.
 */
import { stopOnSignals } from '../train/stop.js';
import { finetune, finetuneTarget, SCRATCH_LR } from '../sweep/finetune.js';
import { TRAIN_DEFAULTS } from '../train/config.js';
import { BERT_PRESETS } from '../model/config.js';
import {
  parseFlags,
  QAT_FLAGS,
  TRAIN_FLAGS,
  runConfigFromFlags,
  runConfigFromJson,
  runMain,
  UsageError,
  initBackendFromFlags,
} from './common.js';
import { progressReporter } from './progress-line.js';
import { finetuneEnding } from './summary.js';
import { existsSync } from 'node:fs';

const FLAGS = {
  ...TRAIN_FLAGS,
  lr: {
    type: 'string',
    help:
      `peak learning rate (default ${SCRATCH_LR.toExponential()} for a preset trained from scratch, ` +
      `${TRAIN_DEFAULTS.lr.toExponential()} from pretrained weights)`,
    num: { kind: 'float', above: 0 },
  },
  bert: { type: 'string', help: `Hugging Face BERT directory, or a preset: ${Object.keys(BERT_PRESETS).join(', ')}` },
  vocab: {
    type: 'string',
    help:
      "vocab.txt or tokenizer.json (default: the model directory's; for a from-scratch preset, built from the " +
      "task's training text)",
  },
  out: { type: 'string', help: 'output directory (default models/<bert>/<task>)' },
  overwrite: {
    type: 'boolean',
    help: 'replace the teacher already in the output directory (default: refused, the old one is kept)',
  },
  'config-json': { type: 'string', help: 'the whole resolved run config as JSON (used by sweep --launcher slurm)' },
} as const;

runMain('finetune', async () => {
  // SIGINT, SIGTERM (Slurm's time limit, preemption, scancel), SIGHUP: checkpoint at the next step, then exit
  // 130/143/129
  stopOnSignals();
  const v = parseFlags(
    FLAGS,
    'npm run finetune -- --task <t> --bert <dir|preset> [...]',
    undefined,
    Object.fromEntries(
      Object.keys(QAT_FLAGS).map((k) => [
        k,
        'a teacher is trained in full precision, without KD (a flag of qat and sweep)',
      ]),
    ),
  );
  if (!v.task && !v['config-json']) throw new UsageError('--task is required');
  if (typeof v.bert !== 'string') throw new UsageError('--bert is required');
  if (!BERT_PRESETS[v.bert] && !existsSync(v.bert))
    throw new UsageError(
      `--bert "${v.bert}" is neither a directory nor a preset (${Object.keys(BERT_PRESETS).join(', ')})`,
    );
  if (typeof v.vocab === 'string' && !existsSync(v.vocab)) throw new UsageError(`--vocab ${v.vocab} does not exist`);
  const scratch = BERT_PRESETS[v.bert] !== undefined;
  const cfg =
    typeof v['config-json'] === 'string'
      ? runConfigFromJson(v['config-json'])
      : runConfigFromFlags(v, scratch && v.lr === undefined ? { train: { lr: SCRATCH_LR } } : {}, 'finetune');
  const out = finetuneTarget(v.bert, cfg.task, v.out as string | undefined, v.overwrite === true);
  await initBackendFromFlags(v);
  const progress = progressReporter(false, `finetune ${cfg.task} ${v.bert}`);
  const r = await finetune({
    cfg,
    bert: v.bert,
    vocab: v.vocab as string | undefined,
    out,
    overwrite: v.overwrite === true,
    onProgress: progress.update,
  });
  progress.done();
  console.error(finetuneEnding(r.dir, r.metrics as Parameters<typeof finetuneEnding>[1]));
});
