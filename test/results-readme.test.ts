/**
 * The README's short Results blocks and docs/results.md's full ones are exactly what `npm run results` writes from
 * experiments/results/ (no number edited by hand), every study file has its marker pair in both, the README stays
 * within 200 lines, the study files are checked (a bad key is an error naming the file and the key), and a missing
 * pair is an error naming the file and the pair.
 */
import test from 'ava';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './helpers/env.js';
import { readTarget, regenerate, type Target } from '../scripts/results/readme.js';
import { experiments, readStudy } from '../scripts/results/experiments.js';
import { RESULTS } from '../scripts/results/collect.js';
import { claimsDoc } from '../scripts/results/claims.js';
import { wrap, wrapMd } from '../scripts/results/md.js';
import { fmtDuration, std } from '../scripts/results/runs.js';

const studies = experiments();

const kept = studies.filter((s) => existsSync(join(ROOT, RESULTS, s.name, 'PROVENANCE.json')));

for (const [target, file] of [
  ['readme', 'README.md'],
  ['doc', 'docs/results.md'],
] as [Target, string][])
  test(`${file}'s generated blocks are regenerated from experiments/results/ (pending where no folder is)`, (t) => {
    const now = readTarget(target);
    for (const n of [...studies.map((s) => s.name), 'claims'])
      t.true(now.includes(`<!-- results:${n}:start -->`) && now.includes(`<!-- results:${n}:end -->`), n);
    const { text, updated } = regenerate(now, studies, target);
    t.deepEqual(
      updated.filter((n) => n !== 'claims'),
      kept.map((s) => s.name),
    );
    t.is(text, now, `a block of ${file} differs from what npm run results writes: run it, do not edit by hand`);
  });

test('the README is read in five minutes: at most 200 lines, and each kept study links to its full block', (t) => {
  const readme = readTarget('readme');
  const lines = readme.trimEnd().split('\n').length;
  t.true(lines <= 200, `README.md has ${lines} lines`);
  for (const s of kept) t.true(readme.includes(`(docs/results.md#${s.name})`), s.name);
  // the full blocks are in docs/results.md only: no command line of a study is repeated in the README
  t.false(readme.includes('```text\nnpm run sweep'), 'a full block in the README');
  t.true(readTarget('doc').includes('## Every kept experiment'));
});

test("docs/results.md's claims block is the claims page regenerated from the kept study folders", (t) => {
  const doc = claimsDoc(studies.filter((s) => s.block === 'study').map((s) => s.name));
  if (!doc) {
    t.pass('no study folder is kept: the claims blocks say how to make them');
    return;
  }
  t.true(readTarget('doc').includes(doc.body), 'the claims block of docs/results.md');
  for (const c of doc.claims)
    for (const d of doc.studies) t.truthy(c.tasks[d.task]?.verdict, `claim ${c.id} has a verdict for ${d.task}`);
  t.is(doc.claims.length, 6);
});

test('study files: every kept study has one, their commands come from the file, and bad keys are named', (t) => {
  t.true(studies.some((s) => s.name === 'sst2' && s.block === 'study'));
  const sst2 = studies.find((s) => s.name === 'sst2')!;
  t.deepEqual(
    sst2.commands.map((c) => c[0]),
    ['finetune', 'sweep', 'benchmark', 'analyze'],
  );
  t.true(sst2.commands[1][1].join(' ').includes('--grid claims --epochs 1 --train-limit 8000 --eval-every 50'));
  // a study reusing another's teacher runs after it
  const names = studies.map((s) => s.name);
  t.true(names.indexOf('cola-default') < names.indexOf('cola-seeds'));
  const dir = mkdtempSync(join(tmpdir(), 'kdqat-study-'));
  const good = JSON.parse(readFileSync(join(ROOT, 'experiments/studies/sst2.json'), 'utf8'));
  writeFileSync(join(dir, 'bad.json'), JSON.stringify({ ...good, sweep: { ...good.sweep, recipe: { epoch: 1 } } }));
  t.throws(() => readStudy('bad', dir), { message: /bad\.json: unknown key "sweep\.recipe\.epoch"/ });
  writeFileSync(join(dir, 'bad.json'), JSON.stringify({ ...good, block: 'tables' }));
  t.throws(() => readStudy('bad', dir), { message: /bad\.json: "block" must be one of/ });
  writeFileSync(join(dir, 'bad.json'), '{ "task": ');
  t.throws(() => readStudy('bad', dir), { message: /bad\.json: / });
});

test('a missing marker pair is an error naming the file and the pair', (t) => {
  t.throws(() => regenerate('# no markers\n', [{ name: 'cola-default', block: 'presets' }]), {
    message: /README\.md has no marker pair <!-- results:cola-default:start/,
  });
  t.throws(() => regenerate('# no markers\n', [{ name: 'cola-default', block: 'presets' }], 'doc'), {
    message: /docs\/results\.md has no marker pair/,
  });
});

test('generated prose is wrapped at 120 columns and never starts a line with a block marker', (t) => {
  const words = Array.from({ length: 60 }, (_, i) => (i % 7 === 6 ? '+' : `w${i}`));
  for (const line of [words.join(' '), `- ${words.join(' ')}`]) {
    const out = wrap(line, 40).split('\n');
    t.true(out.length > 1);
    for (const [i, l] of out.entries()) {
      t.true(l.length <= 40, l);
      if (i > 0) t.false(/^[-+*>#|=]( |$)/.test(l.trimStart()), l);
    }
    t.is(out.join(' ').replace(/ +/g, ' '), line);
  }
  const table = `| ${'x'.repeat(150)} |`;
  t.is(wrapMd(`${table}\n\`\`\`bash\n${'y '.repeat(90)}\n\`\`\``), `${table}\n\`\`\`bash\n${'y '.repeat(90)}\n\`\`\``);
});

test('helpers: durations and the sample std', (t) => {
  t.is(fmtDuration(75), '1 min 15 s');
  t.is(fmtDuration(3720), '1 h 2 min');
  t.is(std([1]), null);
  t.is(std([1, 3]), Math.SQRT2);
});
