/**
 * GLUE data on first use (issue 14): a command that needs a task nobody has fetches it, says so once, and goes on.
 * Each test runs the commands in a fresh copy of the project (src, experiments, package.json; node_modules linked)
 * in a temp folder with no ../shared beside it and no GLUE_DIR: a fresh clone on a machine without the shared data.
 * A loopback HTTP server stands in for the GLUE host (KDQAT_GLUE_URL), serving zips built here from the first rows
 * of the shared TSVs; it counts the requests.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { GLUE_DIR, ROOT } from './helpers/env.js';

const ROWS = 40;
/** a task's zip as the GLUE host serves it, each split cut to its first ROWS rows (plus a header line) */
function taskZip(dir: string, level: 0 | 6 = 6): Uint8Array {
  const head = (f: string) =>
    readFileSync(join(GLUE_DIR, dir, f), 'utf8')
      .split('\n')
      .slice(0, ROWS + 1)
      .join('\n') + '\n';
  return zipSync(
    Object.fromEntries(
      ['train.tsv', 'dev.tsv', 'test.tsv'].map((f) => [`${dir}/${f}`, [Buffer.from(head(f)), { level }]]),
    ),
  );
}
const cola = taskZip('CoLA'),
  rte = taskZip('RTE');
// stored (no compression): a flipped byte leaves the zip readable and only the CRC-32 catches it
const corrupt = Buffer.from(taskZip('CoLA', 0));
corrupt[corrupt.indexOf('the facts are getting murkier')] ^= 0x20; // 'the' -> 'The'
/** path -> body; every request is counted */
const routes: Record<string, Uint8Array> = {
  '/good/CoLA.zip': cola,
  '/good/RTE.zip': rte,
  '/badflag/CoLA.zip': cola,
  '/badflag/RTE.zip': rte,
  '/corrupt/CoLA.zip': corrupt,
  '/truncated/CoLA.zip': cola.subarray(0, cola.length >> 1),
};
const requests: string[] = [];
const asked = (prefix: string) => requests.filter((u) => u.startsWith(prefix)).length;
let server: Server,
  host = '';
const tmp: string[] = [];

test.before(async () => {
  server = createServer((req, res) => {
    requests.push(req.url ?? '');
    const body = routes[req.url ?? ''];
    if (!body) {
      res.writeHead(404);
      res.end('not found');
      return;
    }
    res.writeHead(200, { 'Content-Length': body.length, 'Content-Type': 'application/zip' });
    res.end(body);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  host = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
test.after.always(() => {
  server?.close();
  for (const d of tmp) rmSync(d, { recursive: true, force: true });
});

/** a fresh copy of the project in a temp folder (nothing beside it), and the environment of a user there */
function freshClone(glueUrl: string): { dir: string; base: string; env: NodeJS.ProcessEnv } {
  const base = mkdtempSync(join(tmpdir(), 'kdqat-first-use-'));
  tmp.push(base);
  const dir = join(base, 'kdqat');
  mkdirSync(dir);
  for (const f of ['src', 'experiments', 'package.json', 'tsconfig.json'])
    cpSync(join(ROOT, f), join(dir, f), { recursive: true });
  symlinkSync(realpathSync(join(ROOT, 'node_modules')), join(dir, 'node_modules'));
  const env: NodeJS.ProcessEnv = { ...process.env, KDQAT_GLUE_URL: glueUrl, KDQAT_BACKEND: 'cpu' };
  for (const k of ['GLUE_DIR', 'KDQAT_MODELS', 'KDQAT_OUTPUT', 'KDQAT_CACHE_DIR', 'KDQAT_FIXTURES']) delete env[k];
  return { dir, base, env };
}

/** run a command asynchronously (the server lives in this process: spawnSync would block it) */
function run(
  cmd: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((ok, fail) => {
    const p = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '',
      stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', fail);
    p.on('close', (status) => ok({ status, stdout, stderr }));
  });
}
const tsx = (dir: string, cmd: string, args: string[], env: NodeJS.ProcessEnv) =>
  run(process.execPath, ['--import', 'tsx', join('src', 'cli', `${cmd}.ts`), ...args], dir, env);
const noStack = (s: string) => !/\n\s+at /.test(s);
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

test(
  "the README's first command on a fresh clone: CoLA fetched once, said once, the sweep runs to its " + 'report',
  async (t) => {
    const c = freshClone(`${host}/good`);
    const out = join(c.base, 'out');
    // README: npm run sweep -- --task cola; here the smoke grid (two runs, two at a time) with a few steps each
    const r = await run(
      'npm',
      [
        'run',
        '--silent',
        'sweep',
        '--',
        '--task',
        'cola',
        '--grid',
        'smoke',
        '--out',
        out,
        '--jobs',
        '2',
        '--train-limit',
        '32',
        '--eval-limit',
        '16',
        '--max-seq-len',
        '32',
        '--batch-size',
        '8',
        '--epochs',
        '1',
        '--eval-every',
        '4',
      ],
      c.dir,
      c.env,
    );
    t.is(r.status, 0, r.stderr);
    t.is(asked('/good/'), 1, requests.join(' '));
    const said = r.stderr.split('\n').filter((l) => /downloading/.test(l));
    t.is(said.length, 1, r.stderr);
    const local = join(c.dir, 'data', 'glue');
    t.regex(said[0], /^sweep cola: GLUE task CoLA is not in (.+): downloading (\S+) \((\d+) KB\) into (.+)$/);
    t.true(
      said[0].includes(
        `not in ${local}: downloading ${host}/good/CoLA.zip (${Math.round(cola.length / 1024)} KB) into ` +
          `${join(local, 'CoLA')}`,
      ),
      said[0],
    );
    t.deepEqual(readdirSync(local), ['CoLA']);
    const record = JSON.parse(readFileSync(join(local, 'CoLA', '.download.json'), 'utf8'));
    t.deepEqual(record.files, [{ url: `${host}/good/CoLA.zip`, bytes: cola.length, sha256: sha256(cola) }]);
    for (const run of ['map_s42', 'output_s42']) t.true(existsSync(join(out, 'cola', run, 'metrics.json')), run);
    t.true(existsSync(join(out, 'teachers', 'tiny', 'cola', 'model.safetensors')));
    t.true(readdirSync(join(out, 'cola', 'report')).some((f) => f.endsWith('.csv')));
    t.false(existsSync(join(c.base, 'shared')), 'nothing beside the clone');
    // a GLUE_DIR without CoLA: the copy in data/glue is used, with nothing fetched or said
    const empty = join(c.base, 'empty-glue');
    mkdirSync(empty);
    const code =
      `import { ensureGlueTask } from './src/data/first-use.ts'; console.log(await ensureGlueTask('cola', ` +
      `undefined, (s) => console.log('said', s)));`;
    const again = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], c.dir, {
      ...c.env,
      GLUE_DIR: empty,
    });
    t.is(again.status, 0, again.stderr);
    t.is(again.stdout.trim(), local);
    t.is(asked('/good/'), 1);
  },
);

test('offline: exit 2, one line naming the task, URL, GLUE_DIR and glue:download; nothing left', async (t) => {
  const closed = createServer();
  await new Promise<void>((ok) => closed.listen(0, '127.0.0.1', ok));
  const port = (closed.address() as AddressInfo).port;
  await new Promise((ok) => closed.close(ok));
  const c = freshClone(`http://127.0.0.1:${port}/glue`);
  const mine = join(c.base, 'my-glue');
  mkdirSync(mine); // a GLUE_DIR without RTE
  const r = await tsx(
    c.dir,
    'finetune',
    ['--task', 'rte', '--bert', 'tiny', '--out', join(c.base, 'teacher'), '--max-steps', '1'],
    { ...c.env, GLUE_DIR: mine },
  );
  t.is(r.status, 2, r.stderr);
  t.true(noStack(r.stderr), r.stderr);
  const err = r.stderr
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('finetune:')); // (the backend line aside)
  t.is(err.length, 1, r.stderr);
  t.is(r.stderr.trim().split('\n').at(-1), err[0]);
  t.regex(err[0], /^finetune: GLUE task RTE is in neither /);
  t.true(err[0].includes(`in neither ${mine} nor ${join(c.dir, 'data', 'glue')}`), err[0]);
  t.true(err[0].includes(`http://127.0.0.1:${port}/glue/RTE.zip`), err[0]);
  t.regex(err[0], /ECONNREFUSED/);
  t.regex(err[0], /GLUE_DIR/);
  t.regex(err[0], /npm run glue:download -- --tasks rte/);
  t.false(existsSync(join(c.dir, 'data')), 'no data folder left');
  t.deepEqual(readdirSync(mine), []);
  t.false(existsSync(join(c.base, 'teacher', 'model.safetensors')));
});

for (const [kind, why] of [
  ['corrupt', /fails its CRC-32 check/],
  ['truncated', /end-of-central-directory/],
] as const) {
  test(`a ${kind} zip from the host: a clear error, exit 2, nothing installed`, async (t) => {
    const c = freshClone(`${host}/${kind}`);
    const r = await tsx(
      c.dir,
      'finetune',
      ['--task', 'cola', '--bert', 'tiny', '--out', join(c.base, 'teacher'), '--max-steps', '1'],
      c.env,
    );
    t.is(r.status, 2, r.stderr);
    t.true(noStack(r.stderr), r.stderr);
    t.is(asked(`/${kind}/`), 1);
    const err = r.stderr.trim().split('\n').at(-1)!;
    t.regex(err, why);
    t.true(err.includes(`${host}/${kind}/CoLA.zip`), err);
    t.regex(err, /npm run glue:download -- --tasks cola/);
    t.false(existsSync(join(c.dir, 'data')), 'no data folder left');
  });
}

test('a bad flag with the data missing: exit 2 before any request reaches the host', async (t) => {
  const c = freshClone(`${host}/badflag`);
  const out = join(c.base, 'out');
  const cases: [string, string[], RegExp][] = [
    ['sweep', ['--task', 'cola', '--out', out, '--lr', 'abc'], /--lr must be a number/],
    ['sweep', ['--task', 'cola', '--out', out, '--grid', 'no-such-grid'], /no-such-grid/],
    ['finetune', ['--task', 'rte', '--bert', 'tiny', '--out', out, '--epochs', 'x'], /--epochs must be a number/],
    [
      'qat',
      ['--task', 'rte', '--teacher', join(c.base, 'none'), '--max-steps', '0.5'],
      /--max-steps must be an integer/,
    ],
  ];
  for (const [cmd, args, msg] of cases) {
    const r = await tsx(c.dir, cmd, args, c.env);
    t.is(r.status, 2, `${cmd} ${args.join(' ')}: ${r.stderr}`);
    t.regex(r.stderr, msg);
    t.true(noStack(r.stderr), r.stderr);
  }
  t.is(asked('/badflag/'), 0, 'no request reached the host');
  t.false(existsSync(join(c.dir, 'data')));
});
