/** A small random "teacher" directory for end-to-end tests: vocabulary built from RTE train, tiny BERT. */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { saveBertDir } from '../../src/model/checkpoint.js';
import { initParams } from '../../src/model/init.js';
import { buildWordPieceVocab } from '../../src/data/wordpiece-vocab.js';
import { tinyConfig, GLUE_DIR } from './env.js';

export async function makeTeacherDir(dir: string, numLabels = 2, seed = 1): Promise<void> {
  const rows = readFileSync(join(GLUE_DIR, 'RTE', 'train.tsv'), 'utf8')
    .split('\n')
    .slice(1, 400)
    .map((l) => l.split('\t'));
  const vocab = buildWordPieceVocab(
    rows.flatMap((r) => [r[1] ?? '', r[2] ?? '']),
    600,
  );
  const c = tinyConfig({
    vocab_size: vocab.length,
    num_labels: numLabels,
    max_position_embeddings: 64,
    hidden_size: 16,
    num_attention_heads: 2,
    intermediate_size: 32,
    hidden_dropout_prob: 0.1,
    attention_probs_dropout_prob: 0.1,
  });
  mkdirSync(dir, { recursive: true });
  await saveBertDir(dir, c, initParams(c, seed), { kind: 'teacher', init: 'random (test)' });
  writeFileSync(join(dir, 'vocab.txt'), vocab.join('\n') + '\n');
}
