/**
 * npm run export -- --student <run>/student [--out DIR]
 *
 * Writes the deployable ternary model: weights packed 2 bits per value with their scales, the 8-bit activation
 * quantizers' settings and the FP32 tensors in one safetensors file (src/export/format.ts), plus config.json and
 * the tokenizer. Default DIR: <run>/export. Prints the file's true size and what it is made of.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { initBackend } from '../backend/backend.js';
import { parseFlags, RUN_FLAGS, runMain, UsageError, type FlagSpec } from './common.js';
import { exportStudent, studentQuant } from '../export/export-student.js';

const FLAGS: FlagSpec = {
  student: { type: 'string', help: 'student directory of a KD-QAT run (<run>/student)' },
  out: { type: 'string', help: 'output directory (default: <run>/export)' },
  backend: RUN_FLAGS.backend,
};

const MB = (b: number) => (b / 1e6).toFixed(3);

runMain('export', async () => {
  const v = parseFlags(FLAGS, 'npm run export -- --student <run>/student [--out DIR]');
  if (typeof v.student !== 'string') throw new UsageError('--student is required (the student/ folder of a KD-QAT run)');
  const student = resolve(v.student);
  if (!existsSync(student)) throw new UsageError(`--student ${v.student}: no such directory`);
  try { studentQuant(student); } catch (e) { throw new UsageError(`--student ${v.student}: ${(e as Error).message}`); }
  const out = resolve(typeof v.out === 'string' ? v.out : join(dirname(student), 'export'));
  if (out === student) throw new UsageError('--out must differ from --student (the export would replace the latent weights)');
  await initBackend(typeof v.backend === 'string' ? v.backend : undefined);
  console.error(`export: packing ${student} ...`);
  const r = await exportStudent(student, out);
  console.log(`wrote ${r.path}: ${r.bytes} bytes (${MB(r.bytes)} MB)`);
  console.log(`  ${r.ternaryParams} ternary weights x 2 bits + ${r.scales} scales + ${r.fpParams} FP32 values = ${r.payloadBytes} bytes; ` +
    `file overhead (header, metadata, padding) ${r.bytes - r.payloadBytes} bytes (${(100 * (r.bytes / r.payloadBytes - 1)).toFixed(2)}%)`);
  console.log(`  the latent FP32 student: ${4 * (r.ternaryParams + r.fpParams)} bytes of weights (${((4 * (r.ternaryParams + r.fpParams)) / r.bytes).toFixed(1)}x larger)`);
});
