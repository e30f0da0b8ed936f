/**
 * The deployable model file: one safetensors file (src/util/safetensors.ts) holding
 *   - quantized weights: "<name>" as U8 (ternary, 2 bits per value, src/export/pack.ts; flat, row-major) or I8
 *     (int8, [out, in]), and "<name>.scale" F32: one scale per tensor [1] or per row [rows] (Q = ints * scale);
 *   - every other tensor in FP32 (LayerNorm, biases, position / token-type embeddings, classifier of a ternary model);
 *   - metadata "kdqat" = JSON {format, kind, config, quant, entries}: the BERT config, the quantizers the
 *     runtime applies (activation rules with their bits and clip), and shape / storage / scale layout per
 *     quantized tensor.
 * Written atomically next to a Hugging Face style config.json (and the tokenizer when given).
 */
import { readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { readSafetensors, writeSafetensors, type WriteTensor } from '../util/safetensors.js';
import { atomicWrite, atomicWriteJson } from '../util/fsx.js';
import { bertConfigFrom, bertConfigJson, type BertConfig } from '../model/config.js';
import type { QuantConfig } from '../quant/plan.js';
import { packTernary, packedBytes, unpackTernary } from './pack.js';

export const EXPORT_FORMAT = 'kdqat-export/1';
export const MODEL_FILE = 'model.safetensors';

/**
 * ternary: TWN weights + 8-bit activations (KD-QAT student or ternary PTQ); int8-dynamic: torch quantize_dynamic style
 */
export type ExportKind = 'ternary' | 'int8-dynamic';

export interface QuantEntry {
  storage: 'ternary2' | 'int8';
  shape: number[];
  scale: 'tensor' | 'row';
}

export interface ExportMeta {
  format: typeof EXPORT_FORMAT;
  kind: ExportKind;
  config: BertConfig;
  /** the activation (and, for reference, weight) quantizer settings of a ternary model; null for int8-dynamic */
  quant: QuantConfig | null;
  entries: Record<string, QuantEntry>;
  /** where the weights came from (student run, teacher), free-form */
  source: Record<string, unknown>;
}

/** A quantized tensor in memory: integer values (as numbers) and scales, Q[r, :] = ints[r, :] * scales[r or 0]. */
export interface QuantTensor {
  entry: QuantEntry;
  ints: ArrayLike<number>;
  scales: Float32Array;
}
export interface FpTensor {
  shape: number[];
  data: Float32Array;
}

export interface ExportContents {
  meta: ExportMeta;
  quantized: Record<string, QuantTensor>;
  fp: Record<string, FpTensor>;
}

const count = (shape: number[]) => shape.reduce((a, d) => a * d, 1);

/**
 * Bytes the contents need without file overhead: ternary 2 bits per value + int8 1 byte + 4 per scale and FP32 value.
 */
export function payloadBytes(c: Pick<ExportContents, 'quantized' | 'fp'>): number {
  let b = 0;
  for (const q of Object.values(c.quantized))
    b += (q.entry.storage === 'ternary2' ? count(q.entry.shape) / 4 : count(q.entry.shape)) + 4 * q.scales.length;
  for (const f of Object.values(c.fp)) b += 4 * f.data.length;
  return b;
}

/** Write `dir`/model.safetensors (+ config.json, + the tokenizer file); returns the model file's path and true size. */
export function writeExport(dir: string, c: ExportContents, tokenizerFile?: string): { path: string; bytes: number } {
  const tensors: Record<string, WriteTensor> = {};
  for (const [name, q] of Object.entries(c.quantized)) {
    if (c.fp[name]) throw new Error(`writeExport: "${name}" is both quantized and FP32`);
    const n = count(q.entry.shape);
    if (q.ints.length !== n)
      throw new Error(`writeExport: "${name}" has ${q.ints.length} values, shape [${q.entry.shape}] needs ${n}`);
    tensors[name] =
      q.entry.storage === 'ternary2'
        ? { dtype: 'U8', shape: [packedBytes(n)], data: packTernary(q.ints) }
        : { dtype: 'I8', shape: q.entry.shape, data: q.ints };
    tensors[`${name}.scale`] = { dtype: 'F32', shape: [q.scales.length], data: q.scales };
  }
  for (const [name, f] of Object.entries(c.fp)) tensors[name] = { dtype: 'F32', shape: f.shape, data: f.data };
  const path = join(dir, MODEL_FILE);
  writeSafetensors(path, tensors, { format: 'pt', producer: 'kdqat', kdqat: JSON.stringify(c.meta) });
  atomicWriteJson(join(dir, 'config.json'), bertConfigJson(c.meta.config));
  if (tokenizerFile) atomicWrite(join(dir, basename(tokenizerFile)), readFileSync(tokenizerFile));
  return { path, bytes: statSync(path).size };
}

/** Read an export directory back (ternary values unpacked); errors name the file. */
export function readExport(dir: string): ExportContents & { path: string; bytes: number } {
  const path = join(dir, MODEL_FILE);
  const file = readSafetensors(path);
  let meta: ExportMeta;
  try {
    meta = JSON.parse(file.metadata.kdqat ?? 'null');
  } catch (e) {
    throw new Error(`${path}: metadata "kdqat" is not valid JSON (${(e as Error).message})`);
  }
  if (!meta || meta.format !== EXPORT_FORMAT)
    throw new Error(
      `${path}: not a kdqat export (no "kdqat" metadata of format ${EXPORT_FORMAT}; export a student with npm run ` +
        `export)`,
    );
  meta.config = bertConfigFrom(meta.config as unknown as Record<string, unknown>, `${path} metadata`);
  const quantized: Record<string, QuantTensor> = {},
    fp: Record<string, FpTensor> = {};
  const get = (key: string) => {
    const t = file.tensors.get(key);
    if (!t) throw new Error(`${path}: tensor "${key}" is missing`);
    return t;
  };
  for (const [name, entry] of Object.entries(meta.entries)) {
    const n = count(entry.shape);
    const raw = get(name).data;
    const ints = entry.storage === 'ternary2' ? unpackTernary(raw, n) : raw;
    if (ints.length !== n)
      throw new Error(`${path}: tensor "${name}" has ${ints.length} values, shape [${entry.shape}] needs ${n}`);
    quantized[name] = { entry, ints, scales: Float32Array.from(get(`${name}.scale`).data) };
  }
  for (const [key, t] of file.tensors) {
    if (meta.entries[key] || (key.endsWith('.scale') && meta.entries[key.slice(0, -'.scale'.length)])) continue;
    fp[key] = { shape: t.shape, data: t.data instanceof Float32Array ? t.data : Float32Array.from(t.data) };
  }
  return { meta, quantized, fp, path, bytes: statSync(path).size };
}
