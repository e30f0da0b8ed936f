/**
 * The README's Results blocks and docs/results.md are exactly what `npm run results` writes from
 * experiments/results/ (no number edited by hand), every study file has its marker pair, the study files are checked
 * (a bad key is an error naming the file and the key), and a missing pair is an error naming it.
 */
import test from 'ava';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './helpers/env.js';
import { readReadme, regenerate } from '../scripts/results/readme.js';
import { experiments, readStudy } from '../scripts/results/experiments.js';
import { RESULTS } from '../scripts/results/collect.js';
import { claimsDoc, RESULTS_DOC } from '../scripts/results/claims.js';
import { fmtDuration, std } from '../scripts/results/runs.js';

const studies = experiments();

test("the README's Results blocks are the ones regenerated from experiments/results/ (pending where no folder is)", (t) => {
  const readme = readReadme();
  for (const n of [...studies.map((s) => s.name), 'claims'])
    t.true(readme.includes(`<!-- results:${n}:start -->`) && readme.includes(`<!-- results:${n}:end -->`), n);
  const { text, updated } = regenerate(readme, studies);
  const kept = studies.filter((s) => existsSync(join(ROOT, RESULTS, s.name, 'PROVENANCE.json')));
  t.deepEqual(
    updated.filter((n) => n !== 'claims'),
    kept.map((s) => s.name),
  );
  t.is(text, readme, 'a Results block differs from what npm run results writes: rerun it, do not edit by hand');
});

test('docs/results.md is the claims document regenerated from the kept study folders', (t) => {
  const doc = claimsDoc(studies.filter((s) => s.block === 'study').map((s) => s.name));
  if (!doc) {
    t.false(existsSync(join(ROOT, RESULTS_DOC)), `${RESULTS_DOC} exists while no study folder is kept`);
    return;
  }
  t.is(
    readFileSync(join(ROOT, RESULTS_DOC), 'utf8'),
    doc.md,
    `${RESULTS_DOC} differs from what npm run results writes: rerun it, do not edit by hand`,
  );
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

test('a missing marker pair is an error naming it', (t) => {
  t.throws(() => regenerate('# no markers\n', [{ name: 'cola-default', block: 'presets' }]), {
    message: /results:cola-default:start/,
  });
});

test('helpers: durations and the sample std', (t) => {
  t.is(fmtDuration(75), '1 min 15 s');
  t.is(fmtDuration(3720), '1 h 2 min');
  t.is(std([1]), null);
  t.is(std([1, 3]), Math.SQRT2);
});
