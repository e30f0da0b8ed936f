/**
 * npm run analyze -- --task rte --teacher models/tiny/rte --students output/tiny/rte/map_s42,output/tiny/rte/output_s42
 *                    [--config analyze.json] [--exp distance,hessian,range,norms] [--examples N] [--out DIR]
 * The reference's analysis notebooks (docs/method.md §7): the analyses of src/analysis/registry.ts on dev examples one
 * at a time (batch 1, sliced to seq_length), configured by a JSON file and/or flags (flags win; docs/reports.md).
 * Writes results.json, plots/*.{svg,png} and report.html into --out.
 */
import { analyze } from '../analysis/command.js';
import { analyzeFlags, readAnalyzeConfig, resolveAnalyzeConfig } from '../analysis/config.js';
import { initBackendFromFlags, parseFlags, RUN_FLAGS, runMain, type FlagSpec } from './common.js';

const FLAGS: FlagSpec = {
  config: { type: 'string', help: 'JSON file of analyze settings (docs/reports.md; flags win)' },
  ...(analyzeFlags() as FlagSpec),
  'data-dir': RUN_FLAGS['data-dir'],
  backend: RUN_FLAGS.backend,
  threads: RUN_FLAGS.threads,
};

runMain('analyze', async () => {
  const v = parseFlags(
    FLAGS,
    'npm run analyze -- --task <t> --teacher <dir> --students <dir,...> [--config FILE.json] ' +
      '[--exp distance,hessian,range,norms] [--examples N] [--out DIR]',
  );
  const path = typeof v.config === 'string' ? v.config : undefined;
  const cfg = resolveAnalyzeConfig(v, path ? readAnalyzeConfig(path) : {}, path);
  const log = (s: string) => console.error(`analyze: ${s}`);
  const backend = { backend: cfg.backend, threads: cfg.threads === undefined ? undefined : String(cfg.threads) };
  return analyze(cfg, { initBackend: () => initBackendFromFlags(backend), argv: process.argv.slice(2), log });
});
