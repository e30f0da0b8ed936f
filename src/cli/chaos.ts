/**
 * npm run chaos [-- --seed 14 --reduced --work DIR --glue-dir DIR]
 * The fault suite (src/chaos/): kill -9 at seeded points of a tiny sweep, a full disk, damaged checkpoints and
 * results, locks, and a table of bad inputs; one line per case, then `N kill points, N faults, N bad inputs:
 * N recovered, N lost`. Exits 1 when a case is lost.
 */
import { existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fullPlan, reducedPlan, runSuite, summaryLine } from '../chaos/suite.js';
import { PROJECT_ROOT } from '../util/provenance.js';
import { num, parseFlags, runMain, UsageError, SEED_RANGE } from './common.js';

const FLAGS = {
  seed: { type: 'string', help: 'seed of the kill points (default 14)', num: SEED_RANGE },
  reduced: { type: 'boolean', help: 'the reduced suite that npm test runs (one run, fewer cases)' },
  work: {
    type: 'string',
    help: 'work folder, made afresh and removed at the end unless --keep (default: a temp folder)',
  },
  keep: { type: 'boolean', help: 'keep the work folder' },
  'glue-dir': {
    type: 'string',
    help: 'GLUE copy whose first RTE rows the suite uses (default $GLUE_DIR, else ../shared/glue)',
  },
} as const;

runMain('chaos', async () => {
  const v = parseFlags(FLAGS, 'npm run chaos -- [--seed N] [--reduced] [--work DIR] [--keep] [--glue-dir DIR]');
  const seed = num(v, 'seed', 'int') ?? 14;
  const glue = resolve(
    (v['glue-dir'] as string | undefined) ?? process.env.GLUE_DIR ?? join(PROJECT_ROOT, '../shared/glue'),
  );
  if (!existsSync(join(glue, 'RTE', 'train.tsv')))
    throw new UsageError(
      `${glue}/RTE/train.tsv not found: point --glue-dir or GLUE_DIR at a GLUE copy (npm run glue:download -- ` +
        `--tasks rte)`,
    );
  const work = resolve((v.work as string | undefined) ?? join(tmpdir(), `kdqat-chaos-${process.pid}`));
  const plan = v.reduced ? reducedPlan(seed) : fullPlan(seed);
  const t0 = performance.now();
  console.log(`fault suite (seed ${seed}${v.reduced ? ', reduced' : ''}) in ${work}`);
  const outcomes = await runSuite(plan, work, glue, (s) => console.log(s));
  if (!v.keep) rmSync(work, { recursive: true, force: true });
  console.log(`wall time ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  console.log(summaryLine(outcomes));
  return outcomes.some((o) => o.problems.length) ? 1 : 0;
});
