import test from 'ava';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { strToU8, zipSync } from 'fflate';
import { downloadGlue } from '../src/data/download.js';
import { PROJECT_ROOT, readExamples } from '../src/data/tasks.js';

const GLUE_DIR = resolve(process.env.GLUE_DIR ?? join(PROJECT_ROOT, '..', 'shared', 'glue'));
const nli = (n: number) =>
  'index\tsentence1\tsentence2\tlabel\n' +
  Array.from(
    { length: n },
    (_, i) => `${i}\tPremise ${i}.\tHypothesis ${i}.\t${i % 2 ? 'not_entailment' : 'entailment'}\n`,
  ).join('');
const nliTest = 'index\tsentence1\tsentence2\n0\tP.\tH.\n';
const wnli = (n: number) =>
  'index\tsentence1\tsentence2\tlabel\n' +
  Array.from({ length: n }, (_, i) => `${i}\tUNIQUE-${i} sentence.\tOther.\t${i % 2}\n`).join('');

const rteZip = zipSync({
  'RTE/train.tsv': strToU8(nli(50)),
  'RTE/dev.tsv': strToU8(nli(10)),
  'RTE/test.tsv': strToU8(nliTest),
  '__MACOSX/._RTE': strToU8('junk'),
});
const colaZip = zipSync({
  'CoLA/train.tsv': strToU8('s\t1\t\tA.\n'.repeat(500)),
  'CoLA/dev.tsv': strToU8('s\t0\t*\tB.\n'),
  'CoLA/test.tsv': strToU8('index\tsentence\n0\tC.\n'),
});
// stored (no compression) so that a flipped byte leaves inflation intact and only the CRC can catch it
const wnliZip = zipSync({
  'WNLI/train.tsv': [strToU8(wnli(40)), { level: 0 }],
  'WNLI/dev.tsv': [strToU8(wnli(5)), { level: 0 }],
  'WNLI/test.tsv': [strToU8(nliTest), { level: 0 }],
});
const wnliCorrupt = Buffer.from(wnliZip);
wnliCorrupt[wnliCorrupt.indexOf('UNIQUE-7')] ^= 0x20;
const sstZip = zipSync({
  'SST-2/train.tsv': strToU8('sentence\tlabel\nok \t1\n'.repeat(2000)),
  'SST-2/dev.tsv': strToU8('sentence\tlabel\nx\t0\n'),
  'SST-2/test.tsv': strToU8('index\tsentence\n0\ty\n'),
});

/** path -> body; 'cut' responses announce the full length and drop the connection half-way */
const routes = new Map<string, { body: Uint8Array; cut?: boolean }>([
  ['/RTE.zip', { body: rteZip }],
  ['/CoLA.zip', { body: colaZip.subarray(0, Math.floor(colaZip.length / 2)) }],
  ['/WNLI.zip', { body: wnliCorrupt }],
  ['/SST-2.zip', { body: sstZip, cut: true }],
  ['/msr_paraphrase_train.txt', { body: readFileSync(join(GLUE_DIR, 'MRPC', 'msr_paraphrase_train.txt')) }],
  ['/msr_paraphrase_test.txt', { body: readFileSync(join(GLUE_DIR, 'MRPC', 'msr_paraphrase_test.txt')) }],
  ['/mrpc_dev_ids.tsv', { body: readFileSync(join(GLUE_DIR, 'MRPC', 'dev_ids.tsv')) }],
]);
let server: Server;
let base = '';
const tmp: string[] = [];
const newDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'kdqat-dl-'));
  tmp.push(d);
  return d;
};
const quiet = { log: () => {} };

test.before(async () => {
  server = createServer((req, res) => {
    const r = routes.get(req.url ?? '');
    if (!r) {
      res.writeHead(404);
      res.end('not found');
      return;
    }
    res.writeHead(200, { 'Content-Length': r.body.length, 'Content-Type': 'application/octet-stream' });
    if (r.cut) {
      res.write(r.body.subarray(0, r.body.length >> 1), () => res.destroy());
      return;
    }
    res.end(r.body);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
test.after.always(() => {
  server?.close();
  for (const d of tmp) rmSync(d, { recursive: true, force: true });
});

test('a good zip is installed with the expected layout, then reported present', async (t) => {
  const dir = newDir();
  const [r] = await downloadGlue({ tasks: ['rte'], dataDir: dir, urlBase: base, ...quiet });
  t.is(r.status, 'installed', r.error);
  t.deepEqual(readdirSync(dir), ['RTE']);
  t.deepEqual(readdirSync(join(dir, 'RTE')).sort(), ['.download.json', 'dev.tsv', 'test.tsv', 'train.tsv']);
  const record = JSON.parse(readFileSync(join(dir, 'RTE', '.download.json'), 'utf8'));
  t.deepEqual(record.files, [
    { url: `${base}/RTE.zip`, bytes: rteZip.length, sha256: createHash('sha256').update(rteZip).digest('hex') },
  ]);
  t.is(readExamples({ task: 'rte', split: 'train', glueDir: dir }).examples.length, 50);
  const [again] = await downloadGlue({ tasks: ['RTE'], dataDir: dir, urlBase: base, ...quiet });
  t.is(again.status, 'present');
  const [forced] = await downloadGlue({ tasks: ['rte'], dataDir: dir, urlBase: base, force: true, ...quiet });
  t.is(forced.status, 'installed');
  t.deepEqual(readdirSync(dir), ['RTE']);
});

test('truncated zip, CRC-corrupt zip, broken connection and HTTP 404 leave no task dir behind', async (t) => {
  const dir = newDir();
  const res = await downloadGlue({ tasks: ['cola', 'wnli', 'sst-2', 'qnli'], dataDir: dir, urlBase: base, ...quiet });
  t.deepEqual(
    res.map((r) => r.status),
    ['failed', 'failed', 'failed', 'failed'],
  );
  t.regex(res[0].error!, /end-of-central-directory|truncated/);
  t.regex(res[1].error!, /CRC-32/);
  t.regex(res[2].error!, /connection broke|truncated|received/);
  t.regex(res[3].error!, /HTTP 404/);
  t.deepEqual(readdirSync(dir), []);
});

test('two downloads of one task at once: one installs, the other finds it; one complete task dir', async (t) => {
  const dir = newDir();
  const res = await Promise.all(
    [0, 1].map(() => downloadGlue({ tasks: ['rte'], dataDir: dir, urlBase: base, ...quiet })),
  );
  t.true(
    res.every(([r]) => r.status === 'installed' || r.status === 'present'),
    JSON.stringify(res),
  );
  t.deepEqual(readdirSync(dir), ['RTE']);
  t.is(readExamples({ task: 'rte', split: 'train', glueDir: dir }).examples.length, 50);
});

test('MRPC is built from the SentEval files exactly as download_glue_data.py', async (t) => {
  const dir = newDir();
  const [r] = await downloadGlue({ tasks: ['mrpc'], dataDir: dir, urlBase: base, ...quiet });
  t.is(r.status, 'installed', r.error);
  const md5 = (p: string) => createHash('md5').update(readFileSync(p)).digest('hex');
  for (const f of ['train.tsv', 'dev.tsv', 'test.tsv'])
    t.is(md5(join(dir, 'MRPC', f)), md5(join(GLUE_DIR, 'MRPC', f)), f);
});

test('CLI: npm run glue:download equivalent exits 0 and installs', async (t) => {
  const dir = newDir();
  const { stdout } = await promisify(execFile)(process.execPath, [
    '--import=tsx',
    join(PROJECT_ROOT, 'src', 'cli', 'glue-download.ts'),
    '--tasks',
    'rte',
    '--data-dir',
    dir,
    '--url-base',
    base,
  ]);
  t.regex(stdout, /RTE: installed/);
  t.true(existsSync(join(dir, 'RTE', 'train.tsv')));
  const fail = await promisify(execFile)(process.execPath, [
    '--import=tsx',
    join(PROJECT_ROOT, 'src', 'cli', 'glue-download.ts'),
    '--tasks',
    'cola',
    '--data-dir',
    dir,
    '--url-base',
    base,
  ]).catch((e) => e);
  t.is(fail.code, 1);
  t.false(existsSync(join(dir, 'CoLA')));
});
