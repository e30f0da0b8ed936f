/**
 * The backend chooser and the native addon, in fresh processes: native is preferred when the addon loads (with the
 * thread count of --threads / KDQAT_THREADS); when it cannot load (KDQAT_NATIVE_ADDON pointed elsewhere) kdqat says
 * why in one line and falls back to wasm; an explicit `--backend native` then is an error, not a silent fallback.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

function probe(code: string, env: Record<string, string | undefined>) {
  const e = { ...process.env, ...env };
  for (const k of Object.keys(e)) if (e[k] === undefined) delete e[k];
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    cwd: root,
    env: e as NodeJS.ProcessEnv,
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { status: r.status, out: r.stdout, err: r.stderr };
}
const CHOOSE = (requested = 'undefined', threads = 'undefined') => `
const { initBackend } = await import('./src/backend/backend.ts');
const info = await initBackend(${requested}, { threads: ${threads} });
console.log(JSON.stringify({ backend: info.backend, threads: info.threads, native: info.versions.native ?? null }));`;
const last = (out: string) => JSON.parse(out.trim().split('\n').pop() ?? '{}');

test('the native backend is chosen by default, with every core unless told otherwise', (t) => {
  const r = probe(CHOOSE(), { KDQAT_BACKEND: undefined, KDQAT_THREADS: undefined });
  t.is(r.status, 0, r.err);
  const res = last(r.out);
  t.is(res.backend, 'native', r.err);
  t.regex(res.native, /^oneDNN \d+\.\d+/);
  t.true(res.threads >= 1);
  t.regex(r.err, /\[kdqat\] backend native \(oneDNN/);
});

test('--threads and KDQAT_THREADS set the thread count; a bad value is an error', (t) => {
  t.is(last(probe(CHOOSE("'native'", '1'), {}).out).threads, 1);
  t.is(last(probe(CHOOSE("'native'"), { KDQAT_THREADS: '2' }).out).threads, 2);
  const bad = probe(CHOOSE("'native'"), { KDQAT_THREADS: 'many' });
  t.not(bad.status, 0);
  t.regex(bad.err, /KDQAT_THREADS must be an integer in 1\.\.1024, got "many"/);
});

test('an addon that cannot load: one line says why, and wasm is used', (t) => {
  const r = probe(CHOOSE(), { KDQAT_BACKEND: undefined, KDQAT_NATIVE_ADDON: '/nonexistent/kdqat_native.node' });
  t.is(r.status, 0, r.err);
  t.is(last(r.out).backend, 'wasm');
  const lines = r.err.split('\n').filter((l) => l.includes('native kernels not loaded'));
  t.is(lines.length, 1, r.err);
  t.regex(lines[0], /KDQAT_NATIVE_ADDON=\/nonexistent\/kdqat_native\.node: Cannot find module .*; using wasm$/);
});

test('--backend native with an unloadable addon is an error naming the reason', (t) => {
  const r = probe(CHOOSE("'native'"), { KDQAT_NATIVE_ADDON: '/nonexistent/kdqat_native.node' });
  t.not(r.status, 0);
  t.regex(r.err, /requested backend "native" is not usable here: native kernels not loaded from KDQAT_NATIVE_ADDON/);
});
