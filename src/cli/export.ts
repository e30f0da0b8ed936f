/**
 * npm run export -- --student <run> [--which best|last] [--out DIR]
 *
 * Writes the deployable ternary model: weights packed 2 bits per value with their scales, the 8-bit activation
 * quantizers' settings and the FP32 tensors in one safetensors file (src/export/format.ts), plus config.json and
 * the tokenizer. --student is a run folder (its best student, or with --which last its final weights) or a student
 * folder. Default DIR: <run>/export (best) or <run>/export-last (last). Prints the file's true size, what it is made
 * of, and the dev metric the exported weights scored in their run (docs/students.md).
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { initBackend } from '../backend/backend.js';
import { parseFlags, RUN_FLAGS, runMain, UsageError, type FlagSpec } from './common.js';
import { exportDirOf, exportStudent, studentQuant } from '../export/export-student.js';
import { describeScore, parseWhich, resolveStudent } from '../distill/students.js';
import { mainMetric } from '../data/metrics.js';

const FLAGS: FlagSpec = {
  student: { type: 'string', help: 'a KD-QAT run folder, or a student folder (<run>/student, <run>/student-last)' },
  which: {
    type: 'string',
    help:
      'of a run folder: best (default: the weights of its best evaluation, student/) or last (the final weights, ' +
      'student-last/)',
  },
  out: { type: 'string', help: 'output directory (default: <run>/export, or <run>/export-last for --which last)' },
  backend: RUN_FLAGS.backend,
};

const MB = (b: number) => (b / 1e6).toFixed(3);

runMain('export', async () => {
  const v = parseFlags(FLAGS, 'npm run export -- --student <run> [--which best|last] [--out DIR]');
  if (typeof v.student !== 'string')
    throw new UsageError('--student is required (a KD-QAT run folder, or its student/ folder)');
  if (!existsSync(v.student)) throw new UsageError(`--student ${v.student}: no such directory`);
  let st: ReturnType<typeof resolveStudent>;
  try {
    st = resolveStudent(v.student, parseWhich(v.which));
    studentQuant(st.dir);
  } catch (e) {
    throw new UsageError(`--student: ${(e as Error).message}`);
  }
  const student = st.dir;
  const run = st.run ?? dirname(student);
  const out = resolve(
    typeof v.out === 'string'
      ? v.out
      : basename(student) === 'student-last' || (st.run && st.which === 'last' && st.score)
        ? exportDirOf(run, 'last')
        : join(run, 'export'),
  );
  if (out === student)
    throw new UsageError('--out must differ from --student (the export would replace the latent weights)');
  if (st.note) console.error(`export: note: ${st.note}`);
  await initBackend(typeof v.backend === 'string' ? v.backend : undefined);
  console.error(`export: packing ${student} ...`);
  const r = await exportStudent(student, out);
  console.log(`wrote ${r.path}: ${r.bytes} bytes (${MB(r.bytes)} MB)`);
  console.log(
    `  ${r.ternaryParams} ternary weights x 2 bits + ${r.scales} scales + ${r.fpParams} FP32 values = ` +
      `${r.payloadBytes} bytes; ` +
      `file overhead (header, metadata, padding) ${r.bytes - r.payloadBytes} bytes (` +
      `${(100 * (r.bytes / r.payloadBytes - 1)).toFixed(2)}%)`,
  );
  const task = (() => {
    try {
      return JSON.parse(readFileSync(join(student, 'kdqat.json'), 'utf8')).task as string | undefined;
    } catch {
      return undefined;
    }
  })();
  if (st.score)
    console.log(
      `  exported the ${describeScore(st.score, task ? mainMetric(task) : Object.keys(st.score.metrics)[0])} (` +
        `${student})`,
    );
  else console.log(`  exported ${student}: no recorded evaluation of these weights`);
  console.log(
    `  the latent FP32 student: ${4 * (r.ternaryParams + r.fpParams)} bytes of weights (` +
      `${((4 * (r.ternaryParams + r.fpParams)) / r.bytes).toFixed(1)}x larger)`,
  );
});
