/**
 * The README's Results blocks are exactly what `npm run results` writes from experiments/results/ (no number edited
 * by hand), every documented experiment has its marker pair, and a missing pair is an error naming it.
 */
import test from 'ava';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './helpers/env.js';
import { readReadme, regenerate } from '../scripts/results/readme.js';
import { experiments } from '../scripts/results/experiments.js';
import { RESULTS } from '../scripts/results/collect.js';
import { fmtDuration, std } from '../scripts/results/runs.js';

const names = experiments('reduced').map((e) => e.name);

test('the README\'s Results blocks are the ones regenerated from experiments/results/ (pending where no folder is)', (t) => {
  const readme = readReadme();
  for (const n of names) t.true(readme.includes(`<!-- results:${n}:start -->`) && readme.includes(`<!-- results:${n}:end -->`), n);
  const { text, updated } = regenerate(readme, names);
  t.deepEqual(updated, names.filter((n) => existsSync(join(ROOT, RESULTS, n, 'PROVENANCE.json'))));
  t.is(text, readme, 'a Results block differs from what npm run results writes: rerun it, do not edit by hand');
});

test('a missing marker pair is an error naming it', (t) => {
  t.throws(() => regenerate('# no markers\n', ['cola-default']), { message: /results:cola-default:start/ });
});

test('helpers: durations and the sample std', (t) => {
  t.is(fmtDuration(75), '1 min 15 s');
  t.is(fmtDuration(3720), '1 h 2 min');
  t.is(std([1]), null);
  t.is(std([1, 3]), Math.SQRT2);
});
