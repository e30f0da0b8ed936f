/**
 * loadGlueSplit: read a GLUE split, tokenise, build features, with an on-disk feature cache.
 *
 * Cache: `<cacheDir>/<task>.<split>.T<maxSeqLen>.<key16>.safetensors`, written atomically. The key hashes the TSV
 * content, the tokenizer fingerprint, max length, task, split, example limit and FEATURES_VERSION (the reference
 * keys on the file name only and never invalidates). cacheDir: option, else env KDQAT_CACHE_DIR, else
 * `<project>/.cache/features` (GLUE_DIR may be read-only).
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readSafetensors, writeSafetensors } from '../util/safetensors.js';
import { buildFeatures, FEATURES_VERSION, type Features } from './features.js';
import {
  getTask,
  glueDirFor,
  PROJECT_ROOT,
  rowsToExamples,
  splitPath,
  SPLITS,
  type ReadStats,
  type Split,
  type TaskSpec,
} from './tasks.js';
import type { GlueTokenizer } from './tokenizer.js';
import { DataError, parseTsv, readUtf8 } from './tsv.js';

export interface LoadGlueOptions {
  task: string | TaskSpec;
  split: Split;
  tokenizer: GlueTokenizer;
  /** GLUE root; default: env GLUE_DIR, else <project>/data/glue (either way data/glue when only it has the task) */
  glueDir?: string;
  /** default: the task's max_seq_len from main.py's default_params */
  maxSeqLen?: number;
  /** keep only the first `limit` examples */
  limit?: number;
  /** false: no cache; a string: cache directory; default true */
  cache?: boolean | string;
}

export interface GlueSplit {
  features: Features;
  /** label strings in id order; null for regression */
  labelList: string[] | null;
  task: TaskSpec;
  split: Split;
  file: string;
  /** false for test splits (labels are all 0) */
  labeled: boolean;
  stats: ReadStats;
  cache: { path: string; hit: boolean } | null;
}

export function defaultCacheDir(): string {
  return process.env.KDQAT_CACHE_DIR ? resolve(process.env.KDQAT_CACHE_DIR) : join(PROJECT_ROOT, '.cache', 'features');
}

export function featureCacheKey(p: {
  fileSha: string;
  tokenizer: string;
  maxSeqLen: number;
  task: string;
  split: string;
  limit?: number;
}): string {
  return createHash('sha256')
    .update(JSON.stringify([FEATURES_VERSION, p.fileSha, p.tokenizer, p.maxSeqLen, p.task, p.split, p.limit ?? null]))
    .digest('hex');
}

function readCache(path: string, key: string): { features: Features; stats: ReadStats } | null {
  if (!existsSync(path)) return null;
  try {
    const { tensors, metadata } = readSafetensors(path);
    if (metadata.key !== key) return null;
    const g = (k: string) => {
      const t = tensors.get(k);
      if (!t) throw new Error(`missing ${k}`);
      return t;
    };
    const ids = g('input_ids');
    const [n, T] = ids.shape;
    const labels = g('labels').data;
    return {
      features: {
        inputIds: ids.data as Int32Array,
        tokenTypeIds: g('token_type_ids').data as Int32Array,
        attentionMask: g('attention_mask').data as Int32Array,
        seqLengths: g('seq_lengths').data as Int32Array,
        labels: labels instanceof Float32Array ? labels : (labels as Int32Array),
        n,
        T,
      },
      stats: JSON.parse(metadata.stats),
    };
  } catch {
    return null;
  } // unreadable cache entry: rebuild and overwrite
}

function writeCache(path: string, key: string, f: Features, meta: Record<string, string>, stats: ReadStats): void {
  const nt = [f.n, f.T];
  writeSafetensors(
    path,
    {
      input_ids: { dtype: 'I32', shape: nt, data: f.inputIds },
      token_type_ids: { dtype: 'I32', shape: nt, data: f.tokenTypeIds },
      attention_mask: { dtype: 'I32', shape: nt, data: f.attentionMask },
      seq_lengths: { dtype: 'I32', shape: [f.n], data: f.seqLengths },
      labels: { dtype: f.labels instanceof Float32Array ? 'F32' : 'I32', shape: [f.n], data: f.labels },
    },
    { ...meta, key, stats: JSON.stringify(stats) },
  );
}

/** Load one GLUE split as features (see GlueSplit). Throws DataError on missing or malformed input. */
export function loadGlueSplit(opts: LoadGlueOptions): GlueSplit {
  const task = typeof opts.task === 'string' ? getTask(opts.task) : opts.task;
  const split = opts.split;
  if (!SPLITS.includes(split)) throw new DataError(`unknown split "${split}"; use train, dev or test`);
  const T = opts.maxSeqLen ?? task.maxSeqLen;
  if (opts.limit !== undefined && (!Number.isInteger(opts.limit) || opts.limit < 0))
    throw new DataError(`limit must be a non-negative integer, got ${opts.limit}`);
  const file = splitPath(task, split, glueDirFor(task, opts.glueDir));
  const text = readUtf8(file, `task ${task.name}, split ${split}`);
  const labeled = split !== 'test';

  let cachePath: string | null = null,
    key = '';
  if (opts.cache !== false) {
    const dir = typeof opts.cache === 'string' ? resolve(opts.cache) : defaultCacheDir();
    key = featureCacheKey({
      fileSha: createHash('sha256').update(text).digest('hex'),
      tokenizer: opts.tokenizer.fingerprint,
      maxSeqLen: T,
      task: task.name,
      split,
      limit: opts.limit,
    });
    cachePath = join(dir, `${task.name}.${split}.T${T}.${key.slice(0, 16)}.safetensors`);
    const hit = readCache(cachePath, key);
    if (hit)
      return {
        features: hit.features,
        labelList: task.labels,
        task,
        split,
        file,
        labeled,
        stats: hit.stats,
        cache: { path: cachePath, hit: true },
      };
  }
  const ex = rowsToExamples(task, split, parseTsv(text), file, opts.limit);
  const features = buildFeatures(ex.examples, opts.tokenizer, T, task.outputMode);
  if (cachePath) {
    writeCache(
      cachePath,
      key,
      features,
      { task: task.name, split, max_seq_length: String(T), labels: JSON.stringify(task.labels ?? [null]), file },
      ex.stats,
    );
  }
  return {
    features,
    labelList: task.labels,
    task,
    split,
    file,
    labeled,
    stats: ex.stats,
    cache: cachePath ? { path: cachePath, hit: false } : null,
  };
}

/** One line for logs: "rte dev: 277 examples, T=128 (277 rows read, 0 rejected), cache hit". */
export function describeSplit(g: GlueSplit): string {
  const rej = g.stats.rejected
    ? `, ${g.stats.rejected} rejected at lines ` +
      `${g.stats.rejectedLines.join(',')}${g.stats.rejected > g.stats.rejectedLines.length ? ',...' : ''}`
    : ', 0 rejected';
  return (
    `${g.task.name} ${g.split}: ${g.features.n} examples, T=${g.features.T} (${g.stats.read} rows ` +
    `read${rej})${g.cache ? `, cache ${g.cache.hit ? 'hit' : 'written'}` : ''}`
  );
}
