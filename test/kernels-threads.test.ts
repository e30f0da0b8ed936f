/**
 * KDQAT_WASM_THREADS: the threaded-SIMD wasm backend (src/backend/wasm-threads.ts) in a child process — it reports the
 * thread count it really has, computes the same products as the cpu backend, and the process exits on its own.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Run an ES-module snippet under tsx in a fresh process; returns its exit status, stdout and stderr. */
function probe(code: string, env: Record<string, string>) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    cwd: root,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 180_000,
  });
  return { status: r.status, signal: r.signal, out: r.stdout, err: r.stderr };
}

const PROBE = `
import * as tf from '@tensorflow/tfjs';
const { initBackend } = await import('./src/backend/backend.ts');
const info = await initBackend('wasm', { quiet: true });
const a = tf.randomUniform([3, 200, 64], -1, 1, 'float32', 1), b = tf.randomUniform([3, 64, 300], -1, 1, 'float32', 2);
const mm = () =>
  [tf.matMul(a, b), tf.matMul(a, b, false, false).sum(), tf.matMul(b, a, true, true)]
    .map(t => Array.from(t.dataSync()));
const w = mm();
await tf.setBackend('cpu');
const c = mm();
let d = 0, n = 0;
for (let i = 0; i < w.length; i++)
  for (let j = 0; j < w[i].length; j++) { d += (w[i][j] - c[i][j]) ** 2; n += c[i][j] ** 2; }
console.log(
  JSON.stringify({ threads: info.threads, backend: info.backend, skipped: info.skipped, relErr: Math.sqrt(d / n) }),
);
`;

for (const threads of [1, 2]) {
  test(`KDQAT_WASM_THREADS=${threads}: reports ${threads} thread(s), matches cpu, exits by itself`, (t) => {
    const r = probe(PROBE, { KDQAT_WASM_THREADS: String(threads) });
    t.is(r.signal, null, `killed (${r.signal}): the process did not exit by itself\n${r.err}`);
    t.is(r.status, 0, r.err);
    const line = r.out.trim().split('\n').pop() ?? '';
    const res = JSON.parse(line) as { threads: number; backend: string; skipped: string[]; relErr: number };
    t.is(res.backend, 'wasm');
    t.is(res.threads, threads, `skipped: ${res.skipped.join('; ')}`);
    t.true(res.relErr < 1e-5, `rel err ${res.relErr}`);
  });
}

test('KDQAT_WASM_THREADS rejects a bad value with a clear error', (t) => {
  const r = probe(
    `const { initBackend } = await import('./src/backend/backend.ts'); await initBackend('wasm', { quiet: true });`,
    { KDQAT_WASM_THREADS: 'two' },
  );
  t.not(r.status, 0);
  t.regex(r.err, /KDQAT_WASM_THREADS must be an integer in 1\.\.8, got "two"/);
});
