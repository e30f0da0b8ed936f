/**
 * The documented experiments of the README's Results section: the commands that make each one (sweeps are
 * resumable: finished runs of the same configuration are reused, killed ones resume), where their runs land
 * (output/results/<name>/, git-ignored) and which of their files are kept in experiments/results/<name>/.
 */
import { cpSync, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { PROJECT_ROOT } from '../../src/util/provenance.js';
import { UserError } from '../../src/util/errors.js';

export const OUT = 'output/results';
/** Every run of every experiment: the native backend, one thread per run, two runs at a time (2 cores here). */
export const SETTINGS = { backend: 'native', threads: 1, jobs: 2 } as const;
const RUN = ['--jobs', String(SETTINGS.jobs), '--threads', String(SETTINGS.threads), '--backend', SETTINGS.backend];

export interface Experiment {
  name: string;
  what: string;
  /** Set when the recipe is not the reference's (shorter training): said beside every number. */
  reduced?: string;
  /** The sweep folder (runs), its teacher, and the files or folders besides them to keep (path -> name in experiments/results/<name>/). */
  sweepDir: string;
  teacherDir: string;
  keep: [string, string][];
  /** The experiment whose teacher this one reuses (its wall time is that experiment's, not this one's). */
  teacherOf?: string;
  /** Only runs of these seeds are documented (the sweep folder may hold more). */
  seeds?: number[];
  /** Idempotent work before the commands (e.g. reusing another experiment's teacher); returns what it did. */
  prepare?: (dry: boolean) => string | null;
  /** CLI name and arguments, run as `npm run <name> -- <args>` (src/cli/<name>.ts). */
  commands: [string, string[]][];
}

const out = (name: string, ...p: string[]) => join(OUT, name, ...p);

/** Copy a teacher folder (atomically: a temp copy renamed into place) unless one is there already. */
function reuseTeacher(from: string, to: string, dry: boolean): string | null {
  const src = join(PROJECT_ROOT, from), dst = join(PROJECT_ROOT, to);
  if (existsSync(join(dst, 'model.safetensors'))) return null;
  if (!dry && !existsSync(join(src, 'model.safetensors'))) throw new UserError(`${from} has no teacher yet: run the experiment that makes it first (npm run results -- --only cola-default)`);
  if (dry) return `copy the teacher ${from} to ${to}`;
  mkdirSync(dirname(dst), { recursive: true });
  const tmp = `${dst}.${process.pid}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  cpSync(src, tmp, { recursive: true });
  renameSync(tmp, dst);
  return `copied the teacher ${from} to ${to}`;
}

/** The seed-spread recipe: 'reduced' (1 epoch over 4,000 examples, own folder, all three seeds) or 'full' (cola-default's recipe and folder). */
export type SpreadRecipe = 'reduced' | 'full';

export function experiments(spread: SpreadRecipe): Experiment[] {
  const colaTeacher = out('cola-default', 'teachers/tiny/cola');
  const seedsDir = spread === 'full' ? 'cola-default' : 'cola-seeds';
  return [
    {
      name: 'cola-default',
      what: 'the README\'s main job: `sweep --task cola` with the default grid (TernaryBERT, map, output, map+output at seed 42), the reference recipe (3 epochs, all 8,551 training and 1,043 dev examples), teacher fine-tuned from scratch first',
      sweepDir: out('cola-default', 'cola'), teacherDir: colaTeacher, seeds: [42], keep: [[out('cola-default', 'cola/report/results.md'), 'results.md'], [out('cola-default', 'cola/report/results.csv'), 'results.csv']],
      commands: [['sweep', ['--task', 'cola', '--grid', 'default', ...RUN, '--out', out('cola-default')]]],
    },
    {
      name: 'cola-seeds',
      what: 'the seed-to-seed spread: the four presets at seeds 42, 52 and 62 (grid `baselines-3seeds`), cola-default\'s teacher',
      ...(spread === 'reduced' ? { reduced: '1 epoch over the first 4,000 of the 8,551 training examples (250 steps, evaluated every 50 steps on all 1,043 dev examples) instead of 3 epochs over all of them (1,605 steps), for all three seeds: a reduced recipe that fit the time available; its numbers are not comparable to cola-default\'s' } : {}),
      sweepDir: out(seedsDir, 'cola'), teacherDir: out(seedsDir, 'teachers/tiny/cola'), keep: [[out(seedsDir, 'cola/report/results.md'), 'results.md'], [out(seedsDir, 'cola/report/results.csv'), 'results.csv']],
      teacherOf: 'cola-default',
      ...(spread === 'reduced' ? { prepare: (dry: boolean) => reuseTeacher(colaTeacher, out('cola-seeds', 'teachers/tiny/cola'), dry) } : {}),
      commands: [['sweep', ['--task', 'cola', '--grid', 'baselines-3seeds', ...(spread === 'reduced' ? ['--epochs', '1', '--train-limit', '4000'] : []), ...RUN, '--out', out(seedsDir)]]],
    },
    rteReports(),
  ];
}

/** A small real RTE run whose two reports are looked at: tiny teacher from scratch, two students, 32 dev examples. */
function rteReports(): Experiment {
  const students = ['ternarybert_s42', 'map+output_s42'].map((r) => out('rte-reports', 'rte', r));
  const teacher = out('rte-reports', 'teachers/tiny/rte');
  const analysis = out('rte-reports', 'analysis');
  return {
    name: 'rte-reports',
    what: 'a small real run for the two reports: RTE, tiny teacher from scratch, students ternarybert and map+output (seed 42), 512 training examples, 2 epochs, evaluation every 8 steps on the first 32 dev examples; then `report` and `analyze` (the same 32 examples; Hessian spectra of 2 of them, by Lanczos)',
    reduced: '512 training examples, 2 epochs, 32 dev examples: a check of the reports, not a result',
    sweepDir: out('rte-reports', 'rte'), teacherDir: teacher,
    // folders: their .png, .html, .json, .md and .csv files
    keep: [[out('rte-reports', 'rte/report'), 'report'], [analysis, 'analysis'], [join(analysis, 'plots'), 'analysis/plots']],
    commands: [
      ['sweep', ['--task', 'rte', '--grid', 'rte-reports', '--train-limit', '512', '--epochs', '2', '--eval-every', '8', '--eval-limit', '32', ...RUN, '--out', out('rte-reports'), '--no-report']],
      ['report', ['--task', 'rte', '--dir', out('rte-reports', 'rte')]],
      ['analyze', ['--task', 'rte', '--teacher', teacher, '--students', students.join(','), '--labels', 'ternarybert,map+output', '--examples', '32', '--sample', 'first',
        '--hessian-examples', '2', '--hessian-method', 'lanczos', '--backend', SETTINGS.backend, '--threads', '1', '--out', analysis, '--overwrite']],
    ],
  };
}
