import test from 'ava';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getTask, readExamples, resolveGlueDir, TASKS } from '../src/data/tasks.js';
import { DataError, parsePyFloat, parseTsv } from '../src/data/tsv.js';

const made: string[] = [];
test.after.always(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

/** A GLUE dir with the given files: {'RTE/dev.tsv': '...'} */
function glue(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'kdqat-glue-'));
  made.push(dir);
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(join(dir, rel, '..'), { recursive: true });
    writeFileSync(join(dir, rel), text);
  }
  return dir;
}

test('missing file: error names the path and the task', (t) => {
  const dir = glue({});
  const e = t.throws(() => readExamples({ task: 'rte', split: 'dev', glueDir: dir }), { instanceOf: DataError })!;
  t.true(e.message.includes(join(dir, 'RTE', 'dev.tsv')), e.message);
  t.true(e.message.includes('rte'), e.message);
  t.regex(e.message, /not found/);
});

test('short row: error names file, 1-based line and the field count', (t) => {
  const dir = glue({ 'RTE/dev.tsv': 'index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n1\tonly one\n' });
  const e = t.throws(() => readExamples({ task: 'rte', split: 'dev', glueDir: dir }), { instanceOf: DataError })!;
  t.is(e.file, join(dir, 'RTE', 'dev.tsv'));
  t.is(e.line, 3);
  t.true(e.message.startsWith(`${join(dir, 'RTE', 'dev.tsv')}:3:`), e.message);
  t.regex(e.message, /2 tab-separated field\(s\), expected at least 4/);
});

test('STS-B: unparsable score is an error naming file and line; Python float() syntax accepted', (t) => {
  const head = 'index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n';
  const row = (s: string) => `0\tg\tf\ty\t0\tn\tn\tA man.\tA dog.\t${s}\n`;
  const dir = glue({ 'STS-B/dev.tsv': head + row('3.5') + row(' 1_0.25 ') + row('4.x') });
  const e = t.throws(() => readExamples({ task: 'sts-b', split: 'dev', glueDir: dir }), { instanceOf: DataError })!;
  t.is(e.line, 4);
  t.true(e.message.includes(join(dir, 'STS-B', 'dev.tsv')) && e.message.includes('"4.x"'), e.message);
  const ok = glue({ 'STS-B/dev.tsv': head + row('3.5') + row(' 1_0.25 ') + row('.5e1') });
  t.deepEqual(
    readExamples({ task: 'sts-b', split: 'dev', glueDir: ok }).examples.map((x) => x.label),
    [3.5, 10.25, 5],
  );
});

test('unknown label: error names file, line and the allowed labels', (t) => {
  const dir = glue({ 'RTE/train.tsv': 'index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n1\ta\tb\tneutral\n' });
  const e = t.throws(() => readExamples({ task: 'rte', split: 'train', glueDir: dir }), { instanceOf: DataError })!;
  t.is(e.line, 3);
  t.true(e.message.includes('"neutral"') && e.message.includes('"entailment", "not_entailment"'), e.message);
});

test('QQP: short rows are skipped as the reference does, and counted', (t) => {
  const dir = glue({
    'QQP/dev.tsv':
      'id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n1\t1\t2\tq a?\tq b?\t0\n2\t3\t4\tbroken\n\n3\t5\t6\tq ' +
      'c?\tq d?\t1\n',
  });
  const r = readExamples({ task: 'qqp', split: 'dev', glueDir: dir });
  t.deepEqual(
    r.examples.map((x) => [x.textA, x.textB, x.label, x.line]),
    [
      ['q a?', 'q b?', 0, 2],
      ['q c?', 'q d?', 1, 5],
    ],
  );
  t.deepEqual(r.stats, { read: 4, rejected: 2, rejectedLines: [3, 4] });
});

test('CoLA train/dev have no header, test has one and is unlabeled', (t) => {
  const dir = glue({
    'CoLA/dev.tsv': 'gj04\t1\t\tThe sailors rode.\ngj04\t0\t*\tRode the.\n',
    'CoLA/test.tsv': 'index\tsentence\n0\tBill whistled.\n',
  });
  const dev = readExamples({ task: 'cola', split: 'dev', glueDir: dir });
  t.deepEqual(
    dev.examples.map((x) => [x.textA, x.textB, x.label, x.line]),
    [
      ['The sailors rode.', null, 1, 1],
      ['Rode the.', null, 0, 2],
    ],
  );
  const tst = readExamples({ task: 'CoLA', split: 'test', glueDir: dir });
  t.false(tst.labeled);
  t.deepEqual(
    tst.examples.map((x) => [x.textA, x.label]),
    [['Bill whistled.', 0]],
  );
});

test('csv.reader semantics: quotes literal, CRLF and lone CR end lines, BOM kept, blank line = empty row', (t) => {
  t.deepEqual(parseTsv('\ufeffa\t"b\tc"\r\nd\re\n\nf\t\n'), [['\ufeffa', '"b', 'c"'], ['d'], ['e'], [], ['f', '']]);
  const dir = glue({ 'SST-2/dev.tsv': 'sentence\tlabel\r\nsays "hi \t1\r\n' });
  t.deepEqual(
    readExamples({ task: 'sst-2', split: 'dev', glueDir: dir }).examples.map((x) => x.textA),
    ['says "hi '],
  );
});

test('MNLI matched / mismatched files and limit', (t) => {
  const head = 'i\tp\tg\tpid\ta\tb\tc\td\ts1\ts2\tl1\tgold\n';
  const row = (a: string, l: string) => `0\t0\t0\t0\tx\tx\tx\tx\t${a}\thyp\t${l}\t${l}\n`;
  const dir = glue({
    'MNLI/dev_matched.tsv': head + row('m1', 'neutral') + row('m2', 'contradiction'),
    'MNLI/dev_mismatched.tsv': head + row('mm', 'entailment'),
  });
  t.deepEqual(
    readExamples({ task: 'mnli', split: 'dev', glueDir: dir }).examples.map((x) => [x.textA, x.label]),
    [
      ['m1', 2],
      ['m2', 0],
    ],
  );
  t.deepEqual(readExamples({ task: 'mnli', split: 'dev', glueDir: dir, limit: 1 }).examples.length, 1);
  t.deepEqual(
    readExamples({ task: 'mnli-mm', split: 'dev', glueDir: dir }).examples.map((x) => [x.textA, x.label]),
    [['mm', 1]],
  );
});

test('registry: defaults of docs/method.md §5 and name lookups', (t) => {
  t.deepEqual([TASKS.cola.maxSeqLen, TASKS.cola.batchSize, TASKS.cola.evalStep], [64, 16, 50]);
  t.deepEqual([TASKS.mnli.maxSeqLen, TASKS.mnli.batchSize, TASKS.mnli.evalStep], [128, 32, 8000]);
  t.is(TASKS['sts-b'].labels, null);
  t.is(TASKS['sts-b'].numLabels, 1);
  t.is(getTask('SST-2'), TASKS['sst-2']);
  t.throws(() => getTask('squad'), { instanceOf: DataError, message: /unknown GLUE task "squad"/ });
});

test('GLUE dir resolution: explicit, then GLUE_DIR, then data/glue', (t) => {
  const saved = process.env.GLUE_DIR;
  try {
    process.env.GLUE_DIR = '/x/env';
    t.is(resolveGlueDir('/x/arg'), '/x/arg');
    t.is(resolveGlueDir(), '/x/env');
    delete process.env.GLUE_DIR;
    t.regex(resolveGlueDir(), /[\\/]data[\\/]glue$/);
  } finally {
    if (saved === undefined) delete process.env.GLUE_DIR;
    else process.env.GLUE_DIR = saved;
  }
});

test('parsePyFloat follows Python float()', (t) => {
  t.is(parsePyFloat('5.000'), 5);
  t.is(parsePyFloat('-1e-2'), -0.01);
  t.is(parsePyFloat('Infinity'), Infinity);
  t.true(Number.isNaN(parsePyFloat('nan')!));
  for (const bad of ['', '1.2.3', '1__0', '_1', '0x10', '1e', 'abc']) t.is(parsePyFloat(bad), null, bad);
});
