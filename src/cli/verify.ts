/**
 * npm run verify -- --fixtures DIR [--backend native|wasm|cpu|node] [--threads N] [--glue-dir DIR] [--only
 * forward,qweight,actquant,loss,grad,train,glue,metrics,...] Checks this installation's numerics against a fixture set
 * (format: fixtures/README.md): one line per check and a final "N passed, N failed" line; exit 1 on any failure.
 */
import { dirname, join, resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { Report } from '../verify/report.js';
import { verifyModels } from '../verify/models.js';
import { verifyExtra } from '../verify/extra.js';
import { resolveGlueDir } from '../data/tasks.js';
import { ANALYSIS_GROUPS } from '../verify/analysis.js';
import { parseFlags, runMain, RUN_FLAGS, UsageError, initBackendFromFlags } from './common.js';

const FLAGS = {
  fixtures: { type: 'string', help: 'fixture directory (default: $KDQAT_FIXTURES, else ../shared/fixtures)' },
  backend: RUN_FLAGS.backend,
  threads: RUN_FLAGS.threads,
  'glue-dir': {
    type: 'string',
    help:
      'GLUE TSVs the glue/ fixtures are rebuilt from (default: $GLUE_DIR, else data/glue, else the glue/ next to ' +
      'the fixtures)',
  },
  only: {
    type: 'string',
    help:
      'comma-separated check groups (forward, qweight, actquant, loss, grad, train, glue, metrics, ...; default ' +
      'all)',
  },
} as const;
let values: Record<string, string | boolean | undefined> = {};
const flag = (name: string): string | undefined => values[name] as string | undefined;

/**
 * The GLUE TSVs the glue/ fixtures are rebuilt from: --glue-dir, else GLUE_DIR, else data/glue, else the fixture
 * set's sibling glue/ (fixtures distributed next to their GLUE copy). Printed, so the source is never implicit.
 */
function glueDirFor(fixtures: string): string {
  const explicit = flag('glue-dir');
  const dflt = resolveGlueDir(explicit);
  if (explicit || process.env.GLUE_DIR || existsSync(dflt)) return dflt;
  const sibling = join(dirname(fixtures), 'glue');
  return existsSync(sibling) ? sibling : dflt;
}

runMain('verify', async () => {
  values = parseFlags(
    FLAGS,
    'npm run verify -- [--fixtures DIR] [--backend wasm|cpu|node] [--glue-dir DIR] [--only forward,glue,...]',
  );
  const fixtures = resolve(flag('fixtures') ?? process.env.KDQAT_FIXTURES ?? '../shared/fixtures');
  if (!existsSync(fixtures)) throw new UsageError(`fixture directory ${fixtures} does not exist`);
  const info = await initBackendFromFlags(values);
  console.log(`# verify ${fixtures} on backend ${info.backend}`);
  const report = new Report();
  const only = flag('only')?.split(',');
  await verifyModels(fixtures, report, only, ANALYSIS_GROUPS);
  const glueDir = glueDirFor(fixtures);
  if (!only || only.includes('glue')) console.log(`# GLUE TSVs from ${glueDir}`);
  await verifyExtra(fixtures, report, only, glueDir);
  if (report.notChecked.length)
    console.log(`# ${report.notChecked.length} fixture keys not checked yet (listed above)`);
  console.log(report.summary().replace(/, \d+ not checked yet$/, ''));
  return report.failed ? 1 : 0;
});
