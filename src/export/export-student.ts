/** Export a KD-QAT student directory (latent FP32 weights + quantizer settings) as a packed ternary model. */
import * as tf from '@tensorflow/tfjs';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadBertDir } from '../model/checkpoint.js';
import { QUANT_DEFAULTS, type QuantConfig } from '../quant/plan.js';
import { payloadBytes, writeExport } from './format.js';
import { ternaryContents } from './ptq.js';
import { studentScore } from '../distill/students.js';

/** The student's quantizer settings (kdqat.json "quant"); throws a message naming the problem. */
export function studentQuant(studentDir: string): QuantConfig {
  const p = join(studentDir, 'kdqat.json');
  if (!existsSync(join(studentDir, 'config.json')) || !existsSync(join(studentDir, 'model.safetensors')))
    throw new Error(
      `${studentDir}: not a student directory (needs config.json, model.safetensors and kdqat.json; pass ` +
        `<run>/student)`,
    );
  if (!existsSync(p))
    throw new Error(
      `${studentDir}: no kdqat.json, so its quantizer settings are unknown (pass the student/ folder of a KD-QAT run)`,
    );
  let prov: { quant?: Partial<QuantConfig> };
  try {
    prov = JSON.parse(readFileSync(p, 'utf8'));
  } catch (e) {
    throw new Error(`${p}: invalid JSON (${(e as Error).message})`);
  }
  if (!prov.quant || typeof prov.quant !== 'object')
    throw new Error(`${p}: no "quant" settings (not a KD-QAT student?)`);
  const quant = { ...QUANT_DEFAULTS, ...prov.quant };
  if (quant.weightBits !== 2 || quant.weightRules)
    throw new Error(
      `${studentDir}: weight-bits ${quant.weightBits}${quant.weightRules ? ' with custom weight rules' : ''}; export ` +
        `packs ternary (weight-bits 2, default rules) students only`,
    );
  return quant;
}

export interface ExportResult {
  path: string;
  bytes: number;
  payloadBytes: number;
  ternaryParams: number;
  fpParams: number;
  scales: number;
}

/**
 * Where a run's student is exported by default: <run>/export (the best student), <run>/export-last (the final weights).
 */
export const exportDirOf = (run: string, which: 'best' | 'last'): string =>
  join(run, which === 'best' ? 'export' : 'export-last');

/** Write the packed ternary model of `studentDir` into `outDir` (model.safetensors, config.json, tokenizer). */
export async function exportStudent(
  studentDir: string,
  outDir: string,
  source: Record<string, unknown> = {},
): Promise<ExportResult> {
  const quant = studentQuant(studentDir);
  const m = loadBertDir(studentDir);
  try {
    const scored = studentScore(studentDir);
    const c = await ternaryContents(m.params, m.config, quant, {
      student: studentDir,
      ...(scored ? { scored } : {}),
      ...source,
    });
    const { path, bytes } = writeExport(outDir, c, m.tokenizerFile);
    const q = Object.values(c.quantized);
    return {
      path,
      bytes,
      payloadBytes: payloadBytes(c),
      ternaryParams: q.reduce((a, t) => a + t.ints.length, 0),
      fpParams: Object.values(c.fp).reduce((a, f) => a + f.data.length, 0),
      scales: q.reduce((a, t) => a + t.scales.length, 0),
    };
  } finally {
    tf.dispose(Object.values(m.params));
  }
}
