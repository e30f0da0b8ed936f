/**
 * The full block of each kept experiment (docs/results.md, section "Every kept experiment"), built only from
 * experiments/results/<name>/ (the files the results script keeps); summaries.ts makes the README's short ones.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../src/util/provenance.js';
import { UserError } from '../../src/util/errors.js';
import { RESULTS } from './collect.js';
import { fmtDuration, overlapSec, readJson, std, type Metrics } from './runs.js';
import type { Block } from './experiments.js';
import { studyData } from './claims.js';
import { presetsTable } from './claims-md.js';
import { f4 } from './md.js';

// biome-ignore lint/suspicious/noExplicitAny: PROVENANCE.json as read back, written by collect.ts
type Provenance = Record<string, any>;
export interface Folder {
  name: string;
  prov: Provenance;
  teacher: Metrics;
  runs: Metrics[];
}

/** An experiment's kept folder, or null when it has not run yet. */
export function folder(name: string): Folder | null {
  const dir = join(PROJECT_ROOT, RESULTS, name);
  if (!existsSync(join(dir, 'PROVENANCE.json'))) return null;
  const runs = readdirSync(join(dir, 'runs'))
    .filter((f) => f.endsWith('.metrics.json'))
    .sort()
    .map((f) => readJson<Metrics & { coeffs: Record<string, number> }>(join(dir, 'runs', f)));
  return {
    name,
    prov: readJson(join(dir, 'PROVENANCE.json')),
    teacher: readJson(join(dir, 'teacher.metrics.json')),
    runs,
  };
}

const PRESETS = ['ternarybert', 'map', 'output', 'map+output'];
const byPreset = (a: Metrics, b: Metrics) =>
  PRESETS.indexOf(a.preset ?? '') - PRESETS.indexOf(b.preset ?? '') || a.seed - b.seed;
export const metricOf = (m: Metrics) => Object.keys(m.best?.metrics ?? m.last?.metrics ?? {})[0] ?? 'metric';
const short = (c: string) => c.slice(0, 7);
/** KD terms of a run: its non-zero loss coefficients. */
const terms = (m: Metrics) =>
  Object.entries((m as Metrics & { coeffs: Record<string, number> }).coeffs ?? {})
    .filter(([, v]) => v !== 0)
    .map(([k, v]) => (v === 1 ? k : `${v} ${k}`))
    .join(' + ');

/** How and where the folder was made (commit, machine, backend, threads, jobs, versions), then its commands. */
function madeLines(f: Folder): string[] {
  const p = f.prov,
    m = p.machine;
  const commits = p.made.commits
    .map((c: string) => {
      const g = JSON.parse(c);
      return g ? `${short(g.commit)}${g.dirty ? ' (dirty)' : ''}` : '?';
    })
    .join(', ');
  const v = JSON.parse(p.made.versions[0] ?? 'null') ?? {};
  const day = (f.teacher.provenance.date ?? '').slice(0, 10);
  const cpu = `${m.cpuModel} (family ${m.cpuFamily}, model ${m.cpuModelNumber}; ${m.simd.join(', ')})`;
  return [
    `Made by \`npm run results -- --only ${f.name}\`; runs at git ${commits}, ${day}, on ${cpu}, ${m.cores} cores, ` +
      `backend ${p.settings.backend}${v.native ? ` (${v.native})` : ''}, ${p.settings.threads} thread per run, ` +
      `${p.settings.jobs} runs at a time, tfjs ${v['@tensorflow/tfjs'] ?? '?'}, node ${m.node}. ` +
      `Provenance: \`${RESULTS}/${f.name}/PROVENANCE.md\`. The commands it ran (as recorded):`,
    '',
    '```text',
    ...p.commands.map((c: { command: string }) => c.command),
    '```',
  ];
}

/** What the study file says the experiment is, and its reduced recipe when it has one. */
function whatLines(f: Folder): string[] {
  return [`**What**: ${f.prov.what}.`, ...(f.prov.reduced ? ['', `**Reduced recipe**: ${f.prov.reduced}.`] : [])];
}

/** Wall times from the runs' metrics.json, and how long another experiment's runs shared the machine with these. */
function wallLine(f: Folder, other?: Folder | null): string {
  const w = f.prov.wall;
  const runs = w.runSec as number[];
  const shared = other ? overlapSec([w.runsFrom, w.runsTo], [other.prov.wall.runsFrom, other.prov.wall.runsTo]) : 0;
  const teacher = w.teacherSec === null ? `teacher: ${f.prov.teacherOf}'s, ` : `teacher ${fmtDuration(w.teacherSec)}, `;
  const whole =
    w.wholeSec === null
      ? w.teacherSec === null
        ? ''
        : ' (the teacher was made in an earlier sitting)'
      : `, the whole command ${fmtDuration(w.wholeSec)}`;
  return (
    "Wall times (from the runs' `metrics.json`; measured on a machine shared with other developers' tests and " +
    'benchmarks, which also paused the runs at times: an upper bound of what it takes alone): ' +
    teacher +
    `each run ${fmtDuration(Math.min(...runs))}-${fmtDuration(Math.max(...runs))}, ` +
    `the ${runs.length} runs ${fmtDuration(w.runsSpanSec)} (first start to last end)${whole}` +
    (shared > 0
      ? `; \`${other!.name}\`'s runs ran at the same time for ${fmtDuration(shared)} of it ` +
        '(then four runs shared the two cores)'
      : '') +
    '.' +
    resumedText(f.runs)
  );
}

/** Runs resumed from a checkpoint (killed earlier): their wall time counts from the resume. */
function resumedText(runs: Metrics[]): string {
  const r = runs.filter((m) => m.resumedFromStep !== null);
  return r.length
    ? ` ${r.map((m) => `${m.run} (from step ${m.resumedFromStep})`).join(' and ')} resumed from a checkpoint ` +
        'after a kill: their wall times count from the resume.'
    : '';
}

/** Each run of a one-seed grid: its KD terms, best and last dev metric, the teacher's and the gap. */
export function presetRunsTable(f: Folder): string {
  const metric = metricOf(f.teacher).toUpperCase();
  const rows = [...f.runs].sort(byPreset).map((m) => {
    const t = m.teacher?.metrics[metricOf(m)] ?? NaN,
      best = m.best?.metrics[metricOf(m)] ?? NaN;
    const wall = `${Math.round(m.wallTimeSec).toLocaleString('en')} s`;
    return (
      `| ${m.run} | ${terms(m)} | ${f4(best)} (${m.best?.step ?? '-'}) | ${f4(m.last?.metrics[metricOf(m)])} | ` +
      `${f4(t)} | ${f4(t - best)} | ${wall} |`
    );
  });
  return [
    `| run | KD terms | best dev ${metric} (step) | last ${metric} | FP teacher | gap (teacher - best) | wall time |`,
    '|---|---|---:|---:|---:|---:|---:|',
    ...rows,
  ].join('\n');
}

/** The teacher's line: from scratch, its steps, its last and best dev metric. */
export function teacherText(f: Folder): string {
  const t = f.teacher,
    tm = metricOf(t);
  return (
    `Teacher fine-tuned **from scratch** (${t.steps} steps): dev ${tm.toUpperCase()} ${f4(t.last?.metrics[tm])} ` +
    `at the last evaluation (step ${t.last?.step}), ${f4(t.best?.metrics[tm])} best (step ${t.best?.step}).`
  );
}

function colaDefault(f: Folder): string {
  return [
    ...whatLines(f),
    '',
    ...madeLines(f),
    '',
    `${teacherText(f)} ${wallLine(f, folder('cola-seeds'))}`,
    '',
    presetRunsTable(f),
  ].join('\n');
}

/** Per preset: best dev metric at each seed, mean, std (n - 1), range. */
export function seedStats(f: Folder) {
  const metric = metricOf(f.teacher);
  const seeds = [...new Set(f.runs.map((r) => r.seed))].sort((a, b) => a - b);
  const stats = PRESETS.filter((p) => f.runs.some((r) => r.preset === p)).map((p) => {
    const xs = seeds.map((s) => f.runs.find((r) => r.preset === p && r.seed === s)?.best?.metrics[metric] ?? NaN);
    const ok = xs.filter(Number.isFinite);
    return {
      p,
      xs,
      mean: ok.reduce((a, x) => a + x, 0) / ok.length,
      sd: std(ok),
      range: Math.max(...ok) - Math.min(...ok),
    };
  });
  const epochs = f.runs[0].config.train.epochs;
  const table = [
    `| preset (${epochs} epoch${epochs === 1 ? '' : 's'}) | ${seeds.map((s) => `seed ${s}`).join(' | ')} | mean | ` +
      `std | ` +
      'range (max - min) |',
    `|---|${seeds.map(() => '---:').join('|')}|---:|---:|---:|`,
    ...stats.map((s) => `| ${s.p} | ${s.xs.map(f4).join(' | ')} | ${f4(s.mean)} | ${f4(s.sd)} | ${f4(s.range)} |`),
  ].join('\n');
  const sds = stats.map((s) => s.sd ?? NaN),
    means = stats.map((s) => s.mean),
    ranges = stats.map((s) => s.range);
  return {
    metric,
    seeds,
    table,
    sd: [Math.min(...sds), Math.max(...sds)],
    range: [Math.min(...ranges), Math.max(...ranges)],
    meansSpan: Math.max(...means) - Math.min(...means),
  };
}

/** Per preset over seeds, then the preset means' span next to cola-default's one-seed differences. */
function colaSeeds(f: Folder): string {
  const s = seedStats(f);
  const main = f.name === 'cola-default' ? null : folder('cola-default');
  const mainBest = main ? main.runs.map((r) => r.best?.metrics[s.metric] ?? NaN).filter(Number.isFinite) : [];
  const mainSpan = mainBest.length > 1 ? Math.max(...mainBest) - Math.min(...mainBest) : null;
  const verdict =
    mainSpan === null
      ? ''
      : ` In \`cola-default\` (the full recipe, seed 42 only) the four presets' best dev ${s.metric.toUpperCase()} ` +
        `differ by at most ${f4(mainSpan)}, ` +
        (mainSpan <= 2 * s.sd[1]
          ? 'not more than twice the largest per-preset std measured here: one seed does not rank the presets.'
          : 'more than twice the largest per-preset std measured here (a spread measured on the reduced recipe, ' +
            'though).');
  return [
    ...whatLines(f),
    '',
    ...madeLines(f),
    '',
    wallLine(f, main),
    '',
    s.table,
    '',
    `Best dev ${s.metric.toUpperCase()} over ${s.seeds.length} seeds: the std per preset is ${f4(s.sd[0])}-` +
      `${f4(s.sd[1])} and the range ${f4(s.range[0])}-${f4(s.range[1])}, while the four presets' means differ by at ` +
      `most ${f4(s.meansSpan)}.${verdict}`,
  ].join('\n');
}

/** Each run of the small RTE check: KD terms, best and last dev metric, the teacher's. */
export function reportRunsTable(f: Folder): string {
  const metric = metricOf(f.teacher);
  return [
    `| run | KD terms | best dev ${metric} (step) | last | FP teacher | wall time |`,
    '|---|---|---:|---:|---:|---:|',
    ...[...f.runs]
      .sort(byPreset)
      .map(
        (m) =>
          `| ${m.run} | ${terms(m)} | ${f4(m.best?.metrics[metric])} (${m.best?.step}) | ` +
          `${f4(m.last?.metrics[metric])} | ${f4(m.teacher?.metrics[metric])} | ${Math.round(m.wallTimeSec)} s |`,
      ),
  ].join('\n');
}

function rteReports(f: Folder): string {
  return [
    ...whatLines(f),
    '',
    ...madeLines(f),
    '',
    reportRunsTable(f),
    '',
    `Reports: \`${RESULTS}/${f.name}/report/index.html\` (sweep report) and ` +
      `\`${RESULTS}/${f.name}/analysis/report.html\` (analysis report), with their PNGs beside them.`,
  ].join('\n');
}

/**
 * A claims study: how it was made, its teacher and floor, and the presets over seeds (the claims are their own block).
 */
function study(f: Folder): string {
  const d = studyData(f.name);
  if (!d) throw new UserError(`${RESULTS}/${f.name}: not a study folder`);
  return [
    ...whatLines(f),
    '',
    ...madeLines(f),
    '',
    `${teacherText(f)} The students distil from its final weights (the FP teacher row below). ${wallLine(f)}`,
    '',
    presetsTable(d),
  ].join('\n');
}

export const FULL: Record<Block, (f: Folder) => string> = {
  presets: colaDefault,
  seeds: colaSeeds,
  reports: rteReports,
  study,
};
