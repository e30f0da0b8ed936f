/**
 * npm run results [-- --only NAME[,NAME]] [--dry-run] [--allow-dirty] [--write-only]
 *
 * Runs the studies of experiments/studies/*.json at the current commit, keeps their files in
 * experiments/results/<name>/ (each run's metrics.json, the teacher's, results tables, reports, analyses,
 * PROVENANCE.json/.md: commit, date, CPU, cores, backend, threads, jobs, versions, command lines), writes the claims
 * (experiments/results/claims/) and regenerates the generated blocks between `<!-- results:<name>:start/end -->`
 * from those files only: the README's short ones and docs/results.md's full ones. Sweeps are resumable, so a second
 * invocation reuses finished runs of the same configuration and resumes killed ones. A tree with tracked changes is
 * refused (--allow-dirty runs anyway and records it).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { parseFlags, runMain, UsageError } from '../src/cli/common.js';
import { didYouMean } from '../src/util/errors.js';
import { atomicWrite } from '../src/util/fsx.js';
import { gitState, PROJECT_ROOT } from '../src/util/provenance.js';
import { collect, RESULTS, type CommandRecord } from './results/collect.js';
import { experiments } from './results/experiments.js';
import { readTarget, regenerate, targetPath, type Target } from './results/readme.js';
import { writeClaims } from './results/claims.js';
import { CLAIMS_DIR, RESULTS_DOC } from './results/claims-md.js';

const FLAGS = {
  only: { type: 'string', help: 'comma-separated studies to run (default: every file in experiments/studies/)' },
  'dry-run': { type: 'boolean', help: 'print what would run and be written, run nothing' },
  'allow-dirty': { type: 'boolean', help: 'run with tracked changes in the tree (recorded in PROVENANCE)' },
  'write-only': {
    type: 'boolean',
    help:
      'run no study: rewrite the claims (experiments/results/claims/) and the blocks of README.md and ' +
      'docs/results.md from the kept folders',
  },
} as const;

runMain('results', async () => {
  const v = parseFlags(FLAGS, 'npm run results -- [--only NAME[,NAME]] [--dry-run] [--allow-dirty] [--write-only]');
  const all = experiments();
  const names = typeof v.only === 'string' ? v.only.split(',').map((s) => s.trim()) : all.map((e) => e.name);
  for (const n of names)
    if (!all.some((e) => e.name === n))
      throw new UsageError(
        `--only: unknown experiment "${n}"${didYouMean(
          n,
          all.map((e) => e.name),
        )} (known: ${all.map((e) => e.name).join(', ')})`,
      );
  const dry = v['dry-run'] === true,
    allowDirty = v['allow-dirty'] === true,
    writeOnly = v['write-only'] === true;
  const git = gitState();
  if (git.dirty && !allowDirty && !dry && !writeOnly)
    throw new UsageError(
      `the tree has tracked changes (${git.changed.join(', ')}): commit them first, or pass --allow-dirty (recorded)`,
    );
  console.error(
    `results: git ${git.commit}${git.dirty ? ' (dirty)' : ''}; experiments ${names.join(', ')}` +
      `${dry ? ' (dry run)' : ''}`,
  );
  for (const e of all.filter((x) => names.includes(x.name) && !writeOnly)) {
    console.error(`\nresults ${e.name}: ${e.what}${e.reduced ? ` [reduced recipe: ${e.reduced}]` : ''}`);
    const did = e.prepare?.(dry);
    if (did) console.error(`results ${e.name}: ${did}`);
    const commands: CommandRecord[] = [];
    for (const [cli, args, done] of e.commands) {
      const command = `npm run ${cli} -- ${args.join(' ')}`;
      if (done?.()) {
        console.error(`results ${e.name}: done already, not run again: ${command}`);
        continue;
      }
      console.error(`results ${e.name}: ${dry ? 'would run' : 'running'} ${command}`);
      if (dry) continue;
      const argv = [process.execPath, '--import', 'tsx', join(PROJECT_ROOT, 'src/cli', `${cli}.ts`), ...args];
      const t0 = Date.now(),
        startedAt = new Date(t0).toISOString();
      const r = spawnSync(argv[0], argv.slice(1), { cwd: PROJECT_ROOT, stdio: 'inherit' });
      const exit = r.status ?? 1;
      commands.push({ command, argv: argv.slice(3), startedAt, wallSec: (Date.now() - t0) / 1000, exit });
      if (exit !== 0) {
        console.error(
          `results ${e.name}: ${command} failed (${r.signal ?? `exit ${exit}`}); nothing of ${e.name} was written`,
        );
        return exit;
      }
    }
    if (dry) {
      console.error(`results ${e.name}: would write ${RESULTS}/${e.name}/ and the blocks results:${e.name}`);
      continue;
    }
    console.error(`results ${e.name}: wrote ${collect(e, { argv: process.argv.slice(2), git, allowDirty, commands })}`);
  }
  if (dry) return;
  const claimed = await writeClaims(all.filter((e) => e.block === 'study').map((e) => e.name));
  if (claimed)
    console.error(`results: claims of ${claimed.studies.map((d) => d.study).join(', ')} written to ${CLAIMS_DIR}/`);
  // every block: those of folders kept earlier too (the same files give the same text), pending where none is
  for (const [target, file] of [
    ['readme', 'README.md'],
    ['doc', RESULTS_DOC],
  ] as [Target, string][]) {
    const { text, updated } = regenerate(readTarget(target), all, target);
    atomicWrite(targetPath(target), text);
    console.error(`results: ${file} blocks regenerated: ${updated.join(', ') || 'none'}`);
  }
});
