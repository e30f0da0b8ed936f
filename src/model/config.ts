/** BertConfig: the Hugging Face config.json fields kdqat uses, validated once when read. */

export interface BertConfig {
  vocab_size: number;
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  intermediate_size: number;
  hidden_act: 'gelu';
  hidden_dropout_prob: number;
  attention_probs_dropout_prob: number;
  max_position_embeddings: number;
  type_vocab_size: number;
  initializer_range: number;
  layer_norm_eps: number;
  /** 1 = regression (STS-B style) */
  num_labels: number;
  /** the word-embedding row that gets no gradient (nn.Embedding padding_idx); 0 in BERT */
  pad_token_id: number;
}

export const BERT_DEFAULTS: Omit<
  BertConfig,
  'vocab_size' | 'hidden_size' | 'num_hidden_layers' | 'num_attention_heads' | 'intermediate_size'
> = {
  hidden_act: 'gelu',
  hidden_dropout_prob: 0.1,
  attention_probs_dropout_prob: 0.1,
  max_position_embeddings: 512,
  type_vocab_size: 2,
  initializer_range: 0.02,
  layer_norm_eps: 1e-12,
  num_labels: 2,
  pad_token_id: 0,
};

/** Size presets for --bert; base/large are the Google BERT sizes. */
export const BERT_PRESETS: Record<
  string,
  Pick<BertConfig, 'num_hidden_layers' | 'hidden_size' | 'num_attention_heads' | 'intermediate_size'>
> = {
  tiny: { num_hidden_layers: 2, hidden_size: 128, num_attention_heads: 2, intermediate_size: 512 },
  mini: { num_hidden_layers: 4, hidden_size: 256, num_attention_heads: 4, intermediate_size: 1024 },
  small: { num_hidden_layers: 4, hidden_size: 512, num_attention_heads: 8, intermediate_size: 2048 },
  base: { num_hidden_layers: 12, hidden_size: 768, num_attention_heads: 12, intermediate_size: 3072 },
  large: { num_hidden_layers: 24, hidden_size: 1024, num_attention_heads: 16, intermediate_size: 4096 },
};

const REQUIRED = [
  'vocab_size',
  'hidden_size',
  'num_hidden_layers',
  'num_attention_heads',
  'intermediate_size',
] as const;

/**
 * Build a validated BertConfig from a parsed config.json. Keys kdqat does not use (architectures, model_type,
 * id2label, ...) are allowed, as Hugging Face writes many; values of used keys are type-checked.
 * `numLabels` is the fallback when the file has no num_labels/id2label (the reference's teacher quirk: the
 * config's num_labels wins when present).
 */
export function bertConfigFrom(raw: Record<string, unknown>, source: string, numLabels?: number): BertConfig {
  const cfg: Record<string, unknown> = { ...BERT_DEFAULTS };
  for (const k of REQUIRED) if (raw[k] === undefined) throw new Error(`${source}: missing required key "${k}"`);
  for (const k of [...REQUIRED, ...Object.keys(BERT_DEFAULTS)]) if (raw[k] !== undefined) cfg[k] = raw[k];
  if (raw.num_labels === undefined) {
    if (raw.id2label && typeof raw.id2label === 'object') cfg.num_labels = Object.keys(raw.id2label as object).length;
    else if (numLabels !== undefined) cfg.num_labels = numLabels;
  }
  if (raw.hidden_act !== undefined && raw.hidden_act !== 'gelu')
    throw new Error(`${source}: hidden_act "${raw.hidden_act}" is not supported (only the erf "gelu")`);
  for (const [k, v] of Object.entries(cfg)) {
    if (k === 'hidden_act') continue;
    if (typeof v !== 'number' || !Number.isFinite(v))
      throw new Error(`${source}: "${k}" must be a number, got ${JSON.stringify(v)}`);
    const intKey = ![
      'hidden_dropout_prob',
      'attention_probs_dropout_prob',
      'initializer_range',
      'layer_norm_eps',
    ].includes(k);
    if (intKey && (!Number.isInteger(v) || v < (k === 'pad_token_id' ? 0 : 1)))
      throw new Error(`${source}: "${k}" must be a positive integer, got ${v}`);
  }
  const c = cfg as unknown as BertConfig;
  if (c.hidden_size % c.num_attention_heads !== 0)
    throw new Error(
      `${source}: hidden_size ${c.hidden_size} is not a multiple of num_attention_heads ${c.num_attention_heads}`,
    );
  return c;
}

/** The config.json kdqat writes next to a checkpoint (Hugging Face compatible). */
export function bertConfigJson(c: BertConfig): Record<string, unknown> {
  return { architectures: ['BertForSequenceClassification'], model_type: 'bert', ...c };
}
