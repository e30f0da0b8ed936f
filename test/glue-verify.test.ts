import test from 'ava';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PROJECT_ROOT } from '../src/data/tasks.js';
import { verifyGlue } from '../src/verify/glue.js';
import { verifyMetrics } from '../src/verify/metrics.js';
import { Report } from '../src/verify/report.js';
import { readSafetensors, writeSafetensors, type WriteTensor } from '../src/util/safetensors.js';

const FIXTURES = resolve(process.env.KDQAT_FIXTURES ?? join(PROJECT_ROOT, '..', 'shared', 'fixtures'));
const GLUE_DIR = resolve(process.env.GLUE_DIR ?? join(PROJECT_ROOT, '..', 'shared', 'glue'));
const quiet = () => new Report(() => {});
const tmp: string[] = [];
test.after.always(() => {
  for (const d of tmp) rmSync(d, { recursive: true, force: true });
});

test('verifyGlue: every glue fixture matches exactly', async (t) => {
  const r = quiet();
  await verifyGlue(FIXTURES, r, { glueDir: GLUE_DIR });
  t.is(
    r.failed,
    0,
    r.lines
      .filter((l) => !l.ok)
      .map((l) => `${l.fixture} ${l.key} ${l.note ?? l.error}`)
      .join('\n'),
  );
  t.deepEqual(r.notChecked, []);
  const files = new Set(r.lines.map((l) => l.fixture));
  t.true(files.has('glue/RTE.dev') && files.has('glue/STS-B.dev') && files.has('glue/glue-features.dev'));
  t.true(r.lines.filter((l) => l.key === 'input_ids').length >= 7);
});

test('verifyMetrics: every metric case matches to 1e-9', (t) => {
  const r = quiet();
  verifyMetrics(FIXTURES, r);
  t.is(r.failed, 0);
  t.true(r.passed >= 20);
  t.deepEqual(r.notChecked, []);
});

test('verifyGlue fails on a missing GLUE dir and on a changed feature, skips unknown keys', async (t) => {
  const r1 = quiet();
  await verifyGlue(FIXTURES, r1, { glueDir: join(tmpdir(), 'kdqat-no-such-glue') });
  t.true(r1.failed > 0);
  t.truthy(r1.lines.find((l) => !l.ok && /file not found|does not exist/.test(l.note ?? '')));

  const fx = mkdtempSync(join(tmpdir(), 'kdqat-fx-'));
  tmp.push(fx);
  mkdirSync(join(fx, 'glue'));
  copyFileSync(join(FIXTURES, 'glue', 'vocab.txt'), join(fx, 'glue', 'vocab.txt'));
  const src = readSafetensors(join(FIXTURES, 'glue', 'RTE.dev.safetensors'));
  const out: Record<string, WriteTensor> = {};
  for (const [k, v] of src.tensors) out[k] = { dtype: v.dtype === 'F32' ? 'F32' : 'I32', shape: v.shape, data: v.data };
  const ids = Int32Array.from(src.tensors.get('input_ids')!.data);
  ids[5 * 128 + 3] += 1;
  out.input_ids = { dtype: 'I32', shape: src.tensors.get('input_ids')!.shape, data: ids };
  out.mystery = { dtype: 'I32', shape: [1], data: [0] };
  writeSafetensors(join(fx, 'glue', 'RTE.dev.safetensors'), out, { ...src.metadata, extra: 'x' });
  const r2 = quiet();
  await verifyGlue(fx, r2, { glueDir: GLUE_DIR });
  const bad = r2.lines.filter((l) => !l.ok);
  t.deepEqual(
    bad.map((l) => [l.key, l.error]),
    [['input_ids', 1]],
  );
  t.regex(bad[0].note ?? '', /example 5 \(TSV line 7\)/);
  t.deepEqual(r2.notChecked.map((n) => n.key).sort(), ['metadata.extra', 'mystery']);
});
