/**
 * GLUE examples -> fixed-length BERT features, exactly as the reference's `convert_examples_to_features`:
 *   tokens = [CLS] a [SEP] (b [SEP]),  pair truncated longest-first to max_len - 3 (single: a cut to max_len - 2),
 *   input ids padded with 0 to max_len, token_type_ids 0 for [CLS] a [SEP], 1 for b [SEP], 0 for padding,
 *   attention_mask 1 on real tokens, seq_length = real token count, label id (float for regression).
 * Reference quirks kept: text_b is used only when it is a non-empty string (`if example.text_b:`); a non-empty
 * text_b that tokenises to nothing still forces pair truncation (max_len - 3) but adds no second [SEP].
 */
import type { GlueTokenizer } from './tokenizer.js';
import type { Example, OutputMode } from './tasks.js';
import { DataError } from './tsv.js';

/** Row-major [n, T] int32 inputs, [n] lengths and labels. */
export interface Features {
  inputIds: Int32Array;
  tokenTypeIds: Int32Array;
  attentionMask: Int32Array;
  seqLengths: Int32Array;
  /** Int32Array of label ids (classification) or Float32Array of scores (regression) */
  labels: Int32Array | Float32Array;
  n: number;
  T: number;
}

/** Bump when feature construction changes (part of the cache key). */
export const FEATURES_VERSION = 'features-v1';

/** Longest-first truncation of a pair in place (ties shorten b), as `_truncate_seq_pair`. */
export function truncatePair(a: number[], b: number[], maxTotal: number): void {
  while (a.length + b.length > maxTotal) {
    if (a.length > b.length) a.pop();
    else b.pop();
  }
}

export function buildFeatures(
  examples: readonly Example[],
  tok: GlueTokenizer,
  maxSeqLen: number,
  outputMode: OutputMode,
): Features {
  if (!Number.isInteger(maxSeqLen) || maxSeqLen < 3)
    throw new DataError(`max_seq_length must be an integer >= 3, got ${maxSeqLen}`);
  const n = examples.length,
    T = maxSeqLen;
  const inputIds = new Int32Array(n * T),
    tokenTypeIds = new Int32Array(n * T),
    attentionMask = new Int32Array(n * T);
  const seqLengths = new Int32Array(n);
  const labels = outputMode === 'regression' ? new Float32Array(n) : new Int32Array(n);
  const { cls, sep } = tok.special;
  for (let i = 0; i < n; i++) {
    const ex = examples[i];
    const hasB = ex.textB !== null && ex.textB !== '';
    const enc = tok.encode(ex.textA, hasB ? ex.textB : null);
    let a = enc.a;
    const b = enc.b ?? [];
    if (hasB) truncatePair(a, b, T - 3);
    else if (a.length > T - 2) a = a.slice(0, T - 2);
    const o = i * T;
    let p = o;
    inputIds[p++] = cls;
    for (const id of a) inputIds[p++] = id;
    inputIds[p++] = sep;
    if (b.length) {
      const bStart = p;
      for (const id of b) inputIds[p++] = id;
      inputIds[p++] = sep;
      tokenTypeIds.fill(1, bStart, p);
    }
    attentionMask.fill(1, o, p);
    seqLengths[i] = p - o;
    labels[i] = ex.label;
  }
  return { inputIds, tokenTypeIds, attentionMask, seqLengths, labels, n, T };
}
