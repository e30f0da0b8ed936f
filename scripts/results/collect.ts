/**
 * One experiment's folder experiments/results/<name>/: each run's metrics.json (runs/), the teacher's, the kept
 * report files and PROVENANCE.json/.md. Built in a temp folder and swapped in whole: nothing stale survives, and a
 * killed script leaves the previous folder.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT, projectRelative, type gitState } from '../../src/util/provenance.js';
import { atomicWrite, atomicWriteJson } from '../../src/util/fsx.js';
import { UserError } from '../../src/util/errors.js';
import type { Experiment } from './experiments.js';
import { SETTINGS } from './experiments.js';
import { distinctProv, finishedRuns, fmtDuration, teacherMetrics, wallTimes, type Metrics } from './runs.js';
import { machine, packageVersions } from './machine.js';
import { readExamples } from '../../src/data/tasks.js';
import { computeMetrics, mainMetric } from '../../src/data/metrics.js';

/**
 * What predicting the dev set's most frequent label scores (the level a teacher must clear to have learnt anything),
 * from the task's dev TSV (GLUE_DIR, else data/glue).
 */
export function majorityBaseline(task: string): {
  devExamples: number;
  labelCounts: Record<string, number>;
  majorityLabel: number;
  metric: string;
  value: number;
} {
  const set = readExamples({ task, split: 'dev' });
  const labels = set.examples.map((e) => e.label);
  const counts = new Map<number, number>();
  for (const l of labels) counts.set(l, (counts.get(l) ?? 0) + 1);
  const majorityLabel = [...counts].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0][0];
  const metric = mainMetric(set.task);
  const value = computeMetrics(
    set.task,
    labels.map(() => majorityLabel),
    labels,
  )[metric];
  return {
    devExamples: labels.length,
    labelCounts: Object.fromEntries([...counts].sort((a, b) => a[0] - b[0])),
    majorityLabel,
    metric,
    value,
  };
}

export const RESULTS = 'experiments/results';
const KEPT_EXT = /\.(png|html|json|md|csv)$/;

export interface CommandRecord {
  command: string;
  argv: string[];
  startedAt: string;
  wallSec: number;
  exit: number;
}
export interface Invocation {
  argv: string[];
  git: ReturnType<typeof gitState>;
  allowDirty: boolean;
  commands: CommandRecord[];
}

const TEXT_EXT = /\.(html|json|md|csv)$/;

/**
 * Every string of a JSON value with the project's absolute paths made relative (committed files name no machine's
 * folders).
 */
const relativePaths = <T>(v: T): T =>
  JSON.parse(JSON.stringify(v), (_k, x) => (typeof x === 'string' ? projectRelative(x) : x));

/**
 * A kept file: text with the project's absolute paths made relative (as the runs and reports wrote them), images as
 * they are.
 */
function copyFile(src: string, to: string): void {
  if (TEXT_EXT.test(src)) atomicWrite(to, projectRelative(readFileSync(src, 'utf8')));
  else copyFileSync(src, to);
}

function copyKept(from: string, to: string): void {
  const src = join(PROJECT_ROOT, from);
  if (!existsSync(src)) throw new UserError(`${from} is missing: did the experiment's commands finish?`);
  if (!statSync(src).isDirectory()) {
    copyFile(src, to);
    return;
  }
  mkdirSync(to, { recursive: true });
  for (const f of readdirSync(src))
    if (KEPT_EXT.test(f) && statSync(join(src, f)).isFile()) copyFile(join(src, f), join(to, f));
}

/** The runs an experiment documents (its seeds only, when the sweep folder holds more). */
export function experimentRuns(e: Experiment): Map<string, Metrics> {
  const all = finishedRuns(join(PROJECT_ROOT, e.sweepDir));
  return new Map([...all].filter(([, m]) => !e.seeds || e.seeds.includes(m.seed)));
}

function provenanceJson(
  e: Experiment,
  inv: Invocation,
  teacher: Metrics,
  runs: Map<string, Metrics>,
): Record<string, unknown> {
  const all = [teacher, ...runs.values()];
  const rec = (m: Metrics) => ({
    commit: m.provenance.git?.commit,
    dirty: m.provenance.git?.dirty,
    date: m.provenance.date,
    wallTimeSec: m.wallTimeSec,
    backend: m.provenance.backend,
    threads: m.provenance.threads,
    resumedFromStep: m.resumedFromStep,
  });
  return {
    experiment: e.name,
    what: e.what,
    reduced: e.reduced ?? null,
    generated: {
      date: new Date().toISOString(),
      by: `npm run results -- ${inv.argv.join(' ')}`.trim(),
      git: inv.git,
      allowDirty: inv.allowDirty,
    },
    machine: machine(),
    settings: SETTINGS,
    packages: packageVersions(),
    commands: inv.commands,
    made: {
      commits: distinctProv(all, (p) => p.git),
      backends: distinctProv(all, (p) => [p.backend, p.threads]),
      versions: distinctProv(all, (p) => p.versions),
      machines: distinctProv(all, (p) => p.machine),
    },
    teacherOf: e.teacherOf ?? null,
    wall: wallTimes(e.teacherOf ? null : teacher, [...runs.values()]),
    teacher: rec(teacher),
    runs: Object.fromEntries([...runs].map(([n, m]) => [n, rec(m)])),
  };
}

/** A distinct-values list of PROVENANCE.json as text: commits as "abc1234 (clean)", other values as compact JSON. */
const listText = (xs: string[], commits = false): string =>
  xs
    .map((x) => {
      const v = JSON.parse(x);
      return commits && v
        ? `${String(v.commit).slice(0, 7)} (${v.dirty ? 'dirty' : 'clean'})`
        : Array.isArray(v)
          ? v.join(', ')
          : JSON.stringify(v).replace(/"/g, '').replace(/,/g, ', ');
    })
    .join('; ');

// biome-ignore lint/suspicious/noExplicitAny: PROVENANCE.json as read back, written by this script
function provenanceMd(p: Record<string, any>): string {
  const m = p.machine,
    w = p.wall;
  return [
    `# ${p.experiment}: provenance`,
    '',
    `${p.what}.`,
    ...(p.reduced ? ['', `**Reduced recipe**: ${p.reduced}.`] : []),
    '',
    `- written by \`${p.generated.by}\` on ${p.generated.date} at git ${p.generated.git.commit}` +
      `${p.generated.git.dirty ? ` (**dirty**: ${p.generated.git.changed.join(', ')}; --allow-dirty)` : ' (clean)'}`,
    `- runs and teacher made at git ${listText(p.made.commits, true)}`,
    `- machine: ${m.cpuModel} (family ${m.cpuFamily}, model ${m.cpuModelNumber}; ${m.simd.join(', ')}), ${m.cores} ` +
      `cores, ${m.memGiB} GiB, node ${m.node}, ${m.platform}`,
    `- backend and threads per run: ${listText(p.made.backends)}; ${p.settings.jobs} runs at a time`,
    `- versions: ${listText(p.made.versions)}`,
    `- commands of this invocation (a finished run of the same configuration is reused, an unfinished one resumed):`,
    ...p.commands.map((c: CommandRecord) => `  - \`${c.command}\` (${fmtDuration(c.wallSec)}, exit ${c.exit})`),
    `- wall times (from the runs' metrics.json; measured on a machine shared with other work, which may also have ` +
      `paused the runs): teacher ${w.teacherSec === null ? `${p.teacherOf}'s (reused)` : fmtDuration(w.teacherSec)}, ` +
      `runs ` +
      `${w.runSec.map(fmtDuration).join(', ')}; the runs from first start to last end ${fmtDuration(w.runsSpanSec)}; ` +
      `teacher start to last run end ${w.wholeSec === null ? '-' : fmtDuration(w.wholeSec)}`,
    '',
  ].join('\n');
}

/** Write experiments/results/<name>/ from the experiment's output folder. */
export function collect(e: Experiment, inv: Invocation): string {
  const teacher = teacherMetrics(join(PROJECT_ROOT, e.teacherDir));
  const runs = experimentRuns(e);
  if (!runs.size) throw new UserError(`${e.sweepDir}: no finished runs`);
  const dest = join(PROJECT_ROOT, RESULTS, e.name),
    tmp = `${dest}.${process.pid}.tmp`,
    old = `${dest}.${process.pid}.old`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(join(tmp, 'runs'), { recursive: true });
  for (const [name, m] of runs) atomicWriteJson(join(tmp, 'runs', `${name}.metrics.json`), relativePaths(m));
  atomicWriteJson(join(tmp, 'teacher.metrics.json'), relativePaths(teacher));
  if (e.block === 'study') atomicWriteJson(join(tmp, 'majority.json'), majorityBaseline(e.task));
  for (const [from, to] of e.keep) copyKept(from, join(tmp, to));
  const p = relativePaths(provenanceJson(e, inv, teacher, runs));
  atomicWriteJson(join(tmp, 'PROVENANCE.json'), p);
  atomicWrite(join(tmp, 'PROVENANCE.md'), provenanceMd(p));
  if (existsSync(dest)) renameSync(dest, old);
  renameSync(tmp, dest);
  rmSync(old, { recursive: true, force: true });
  return dest;
}
