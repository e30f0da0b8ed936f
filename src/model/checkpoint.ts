/**
 * Checkpoint I/O. Reads Hugging Face BERT directories (config.json + model.safetensors [+ vocab.txt or
 * tokenizer.json]) with name mapping and strict shape checks; writes kdqat checkpoints in the same format, so a
 * round trip is lossless (float32 throughout).
 */
import * as tf from '@tensorflow/tfjs';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors, writeSafetensors, type WriteTensor } from '../util/safetensors.js';
import { atomicWriteJson } from '../util/fsx.js';
import { bertConfigFrom, bertConfigJson, type BertConfig } from './config.js';
import { paramShapes, type Params } from './bert.js';
import { initParams } from './init.js';

export class CheckpointError extends Error {
  constructor(msg: string) {
    super(msg);
    this.name = 'CheckpointError';
  }
}

/** Map a checkpoint tensor name to the kdqat name (Hugging Face BertForSequenceClassification naming). */
export function canonicalName(name: string): string | null {
  let n = name.replace(/\.gamma$/, '.weight').replace(/\.beta$/, '.bias');
  if (n.startsWith('cls.') || n.endsWith('.position_ids')) return null; // pre-training heads / buffers: not used
  if (n.startsWith('embeddings.') || n.startsWith('encoder.') || n.startsWith('pooler.')) n = `bert.${n}`;
  return n;
}

export interface LoadedModel {
  config: BertConfig;
  params: Record<string, tf.Tensor>;
  dir: string;
  /** tokenizer.json or vocab.txt found in the directory */
  tokenizerFile?: string;
  /** the directory's kdqat.json provenance, when it has one */
  provenance?: Record<string, unknown>;
  notes: string[];
}

export interface LoadOptions {
  /** num_labels when config.json does not say (the reference's teacher quirk: the config wins) */
  numLabels?: number;
  /** initialise a missing classifier (e.g. a pre-trained, not fine-tuned, checkpoint) with seed; default: error */
  initMissingHead?: { seed: number };
}

/** Read a BERT directory. Every problem names the file and the tensor key. */
export function loadBertDir(dir: string, opts: LoadOptions = {}): LoadedModel {
  const cfgPath = join(dir, 'config.json');
  if (!existsSync(cfgPath))
    throw new CheckpointError(`${dir}: no config.json (expected a Hugging Face BERT directory)`);
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(readFileSync(cfgPath, 'utf8'));
  } catch (e) {
    throw new CheckpointError(`${cfgPath}: invalid JSON (${(e as Error).message})`);
  }
  const config = bertConfigFrom(raw, cfgPath, opts.numLabels);
  const stPath = join(dir, 'model.safetensors');
  if (!existsSync(stPath)) {
    const bin = existsSync(join(dir, 'pytorch_model.bin'));
    const hint = bin
      ? ' (found pytorch_model.bin: convert it with `python -c "from transformers import AutoModel; ..." ' +
        'save_pretrained(safe_serialization=True)` or the safetensors convert script)'
      : '';
    throw new CheckpointError(`${dir}: no model.safetensors${hint}`);
  }
  const file = readSafetensors(stPath);
  const expected = paramShapes(config);
  const params: Record<string, tf.Tensor> = {};
  const notes: string[] = [];
  const unexpected: string[] = [];
  const ignored: string[] = [];
  try {
    for (const [key, t] of file.tensors) {
      const name = canonicalName(key);
      if (name === null) {
        ignored.push(key);
        continue;
      }
      const shape = expected[name];
      if (!shape) {
        unexpected.push(key);
        continue;
      }
      if (shape.join('x') !== t.shape.join('x'))
        throw new CheckpointError(
          `${stPath}: tensor "${key}" has shape [${t.shape}] but config.json implies [${shape}]`,
        );
      if (
        t.dtype === 'I32' ||
        t.dtype === 'I64' ||
        t.dtype === 'I16' ||
        t.dtype === 'I8' ||
        t.dtype === 'U8' ||
        t.dtype === 'BOOL'
      )
        throw new CheckpointError(`${stPath}: tensor "${key}" has integer dtype ${t.dtype}, expected a float`);
      if (params[name])
        throw new CheckpointError(`${stPath}: tensor "${key}" maps to "${name}", which is already present`);
      params[name] = tf.tensor(Float32Array.from(t.data), shape, 'float32');
    }
    if (unexpected.length)
      throw new CheckpointError(
        `${stPath}: unexpected tensors (not part of a BERT classifier with this config): ` +
          `${unexpected.slice(0, 10).join(', ')}${unexpected.length > 10 ? ` and ${unexpected.length - 10} more` : ''}`,
      );
    const missing = Object.keys(expected).filter((k) => !params[k]);
    const head = missing.filter((k) => k.startsWith('classifier.') || k.startsWith('bert.pooler.'));
    const body = missing.filter((k) => !head.includes(k));
    if (body.length)
      throw new CheckpointError(
        `${stPath}: missing tensors: ` +
          `${body.slice(0, 10).join(', ')}${body.length > 10 ? ` and ${body.length - 10} more` : ''}`,
      );
    if (head.length) {
      if (!opts.initMissingHead)
        throw new CheckpointError(
          `${stPath}: missing tensors ${head.join(', ')} (a pre-trained, not task-fine-tuned checkpoint? fine-tune ` +
            `it first with npm run finetune)`,
        );
      const fresh = initParams(config, opts.initMissingHead.seed);
      for (const k of Object.keys(fresh)) {
        if (head.includes(k)) params[k] = fresh[k];
        else fresh[k].dispose();
      }
      notes.push(`initialised ${head.join(', ')} from scratch (seed ${opts.initMissingHead.seed})`);
    }
  } catch (e) {
    for (const t of Object.values(params)) t.dispose();
    throw e;
  }
  if (ignored.length)
    notes.push(
      `ignored ${ignored.length} tensors not used by a classifier ` +
        `(${ignored.slice(0, 3).join(', ')}${ignored.length > 3 ? ', ...' : ''})`,
    );
  const tokenizerFile = ['tokenizer.json', 'vocab.txt'].map((f) => join(dir, f)).find((f) => existsSync(f));
  const provPath = join(dir, 'kdqat.json');
  const provenance = existsSync(provPath) ? JSON.parse(readFileSync(provPath, 'utf8')) : undefined;
  return { config, params, dir, tokenizerFile, provenance, notes };
}

/** Write params as model.safetensors + config.json (+ kdqat.json provenance) into dir, each file atomically. */
export async function saveBertDir(
  dir: string,
  config: BertConfig,
  params: Params,
  provenance?: Record<string, unknown>,
  extraConfig?: Record<string, unknown>,
): Promise<void> {
  const tensors: Record<string, WriteTensor> = {};
  for (const [name, t] of Object.entries(params))
    tensors[name] = { dtype: 'F32', shape: t.shape, data: (await t.data()) as Float32Array };
  writeSafetensors(join(dir, 'model.safetensors'), tensors, { format: 'pt', producer: 'kdqat' });
  atomicWriteJson(join(dir, 'config.json'), { ...bertConfigJson(config), ...extraConfig });
  if (provenance) atomicWriteJson(join(dir, 'kdqat.json'), provenance);
}
