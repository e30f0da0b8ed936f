/** Shared test environment: fixture and GLUE locations (KDQAT_FIXTURES, GLUE_DIR) and a tiny random BERT. */
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { bertConfigFrom, BERT_DEFAULTS, type BertConfig } from '../../src/model/config.js';

export const ROOT = resolve(new URL('../..', import.meta.url).pathname);
export const FIXTURES = resolve(process.env.KDQAT_FIXTURES ?? join(ROOT, '../shared/fixtures'));
export const GLUE_DIR = resolve(process.env.GLUE_DIR ?? join(ROOT, '../shared/glue'));

/** every model fixture folder found (never a fixed list) */
export function modelFixtures(): string[] {
  const d = join(FIXTURES, 'models');
  return existsSync(d)
    ? readdirSync(d)
        .filter((n) => existsSync(join(d, n, 'model.safetensors')))
        .sort()
    : [];
}

export function tinyConfig(over: Partial<BertConfig> = {}): BertConfig {
  return bertConfigFrom(
    {
      ...BERT_DEFAULTS,
      vocab_size: 50,
      hidden_size: 24,
      num_hidden_layers: 2,
      num_attention_heads: 3,
      intermediate_size: 40,
      max_position_embeddings: 32,
      hidden_dropout_prob: 0,
      attention_probs_dropout_prob: 0,
      num_labels: 3,
      initializer_range: 0.2,
      ...over,
    },
    'test config',
  );
}
