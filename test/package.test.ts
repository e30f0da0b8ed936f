/**
 * kdqat as a published package: `npm pack` (prepack builds dist/), the tarball installed with its peer tfjs into a
 * fresh consumer folder, examples/distil-loop.ts compiled against the installed package's .d.ts and run with plain
 * node (no tsx): it distils, saves, and the consumer holds one tfjs-core (no "already registered" warnings).
 */
import test from 'ava';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { FIXTURES, ROOT, modelFixtures } from './helpers/env.js';

// a child npm must not inherit the npm_* settings of an `npm test` that runs this file
const cleanEnv = (): NodeJS.ProcessEnv =>
  Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
const run = (cmd: string, args: string[], opts: SpawnSyncOptions) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: cleanEnv(), ...opts });
  return { status: r.status, stdout: String(r.stdout), stderr: String(r.stderr) };
};

/** every installed copy of a package under node_modules (nested ones included) */
function copiesOf(nodeModules: string, name: string): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir)) {
      const d = join(dir, e);
      if (!statSync(d).isDirectory()) continue;
      if (e.startsWith('@')) {
        walk(d);
        continue;
      }
      const pj = join(d, 'package.json');
      if (existsSync(pj) && JSON.parse(readFileSync(pj, 'utf8')).name === name) found.push(d);
      if (existsSync(join(d, 'node_modules'))) walk(join(d, 'node_modules'));
    }
  };
  walk(nodeModules);
  return found;
}

test('npm pack, install into a fresh consumer: the example compiled against dist/*.d.ts runs under plain node', (t) => {
  const models = modelFixtures();
  if (models.length === 0) {
    t.pass('no model fixtures (KDQAT_FIXTURES)');
    return;
  }
  const work = mkdtempSync(join(tmpdir(), 'kdqat-package-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true })); // the consumer's node_modules: ~150 packages

  const pack = run('npm', ['pack', '--pack-destination', work, '--json'], { cwd: ROOT });
  t.is(pack.status, 0, pack.stderr);
  const tarball = join(work, JSON.parse(pack.stdout)[0].filename as string);
  const packed = (JSON.parse(pack.stdout)[0].files as { path: string }[]).map((f) => f.path);
  t.true(packed.includes('dist/api/index.js') && packed.includes('dist/api/index.d.ts'), 'the build is packed');
  t.false(
    packed.some((p) => p.startsWith('src/') || p.startsWith('test/')),
    'sources and tests are not packed',
  );

  const consumer = join(work, 'consumer');
  mkdirSync(consumer);
  // arquero's newest @uwdata/flechette needs a package the registry does not serve: the same pin as this repo's
  writeFileSync(
    join(consumer, 'package.json'),
    JSON.stringify({ name: 'consumer', private: true, type: 'module', overrides: { '@uwdata/flechette': '2.6.0' } }),
  );
  const inst = run(
    'npm',
    ['install', '--prefer-offline', '--no-audit', '--no-fund', '--omit=optional', tarball, '@tensorflow/tfjs@4.22.0'],
    { cwd: consumer },
  );
  t.is(inst.status, 0, inst.stderr);
  const nm = join(consumer, 'node_modules');
  t.is(copiesOf(nm, '@tensorflow/tfjs-core').length, 1, 'one tfjs-core in the consumer');
  t.deepEqual(copiesOf(nm, 'tsx'), [], 'tsx is not installed with the library');

  copyFileSync(join(ROOT, 'examples', 'distil-loop.ts'), join(consumer, 'distil-loop.ts'));
  const tsc = run(
    process.execPath,
    [
      join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'),
      '--module',
      'nodenext',
      '--moduleResolution',
      'nodenext',
      '--target',
      'es2022',
      '--strict',
      '--skipLibCheck',
      '--typeRoots',
      join(ROOT, 'node_modules', '@types'),
      '--types',
      'node',
      'distil-loop.ts',
    ],
    { cwd: consumer },
  );
  t.is(tsc.status, 0, tsc.stdout + tsc.stderr);

  const out = join(work, 'student.safetensors');
  const ex = run(process.execPath, ['distil-loop.js', join(FIXTURES, 'models', models[0]), '3', out], {
    cwd: consumer,
    env: { ...cleanEnv(), KDQAT_BACKEND: 'cpu' },
  });
  t.is(ex.status, 0, ex.stderr);
  t.regex(ex.stdout, /KD loss [\d.]+ -> [\d.]+ in 3 steps; student saved to /);
  t.true(readFileSync(out).length > 1000);
  t.notRegex(ex.stderr, /already registered|already been set/i, ex.stderr);
});
