/**
 * The README's Results blocks, built only from experiments/results/<name>/ (the files the results script keeps),
 * and written between `<!-- results:<name>:start -->` and `<!-- results:<name>:end -->`.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../src/util/provenance.js';
import { UserError } from '../../src/util/errors.js';
import { RESULTS } from './collect.js';
import { fmtDuration, overlapSec, readJson, std, type Metrics } from './runs.js';
import type { Block, Experiment } from './experiments.js';
import { CLAIMS_DIR, claimsBlock, presetsTable, RESULTS_DOC, studyData } from './claims.js';

// biome-ignore lint/suspicious/noExplicitAny: PROVENANCE.json as read back, written by collect.ts
interface Folder {
  name: string;
  prov: Record<string, any>;
  teacher: Metrics;
  runs: Metrics[];
}

function folder(name: string): Folder | null {
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
const metricOf = (m: Metrics) => Object.keys(m.best?.metrics ?? m.last?.metrics ?? {})[0] ?? 'metric';
const f4 = (x: number | null | undefined) =>
  x === null || x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(4);
const short = (c: string) => c.slice(0, 7);
/** KD terms of a run: its non-zero loss coefficients. */
const terms = (m: Metrics) =>
  Object.entries((m as Metrics & { coeffs: Record<string, number> }).coeffs ?? {})
    .filter(([, v]) => v !== 0)
    .map(([k, v]) => (v === 1 ? k : `${v} ${k}`))
    .join(' + ');

/** One line: how and where the folder was made (commit, machine, backend, threads, jobs, versions). */
function madeLine(f: Folder): string {
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
  return (
    `Made by \`npm run results -- --only ${f.name}\` (${p.commands.map((c: { command: string }) => `\`${c.command}\``).join(', then ')}); ` +
    `runs at git ${commits}, ${day}, on ${m.cpuModel} (family ${m.cpuFamily}, model ${m.cpuModelNumber}; ${m.simd.join(', ')}), ${m.cores} cores, ` +
    `backend ${p.settings.backend}${v.native ? ` (${v.native})` : ''}, ${p.settings.threads} thread per run, ${p.settings.jobs} runs at a time, tfjs ${v['@tensorflow/tfjs'] ?? '?'}, node ${m.node}. ` +
    `Provenance: \`${RESULTS}/${f.name}/PROVENANCE.md\`.`
  );
}

/** Wall times from the runs' metrics.json, and how long another experiment's runs shared the machine with these. */
function wallLine(f: Folder, other?: Folder | null): string {
  const w = f.prov.wall;
  const runs = w.runSec as number[];
  const shared = other ? overlapSec([w.runsFrom, w.runsTo], [other.prov.wall.runsFrom, other.prov.wall.runsTo]) : 0;
  return (
    `Wall times (from the runs' \`metrics.json\`; measured on a machine shared with other developers' tests and benchmarks, which also paused the runs at times: an upper bound of what it takes alone): ` +
    (w.teacherSec === null ? `teacher: ${f.prov.teacherOf}'s, ` : `teacher ${fmtDuration(w.teacherSec)}, `) +
    `each run ${fmtDuration(Math.min(...runs))}-${fmtDuration(Math.max(...runs))}, the ${runs.length} runs ${fmtDuration(w.runsSpanSec)} (first start to last end)` +
    (w.wholeSec === null
      ? w.teacherSec === null
        ? ''
        : ' (the teacher was made in an earlier sitting)'
      : `, the whole command ${fmtDuration(w.wholeSec)}`) +
    (shared > 0
      ? `; \`${other!.name}\`'s runs ran at the same time for ${fmtDuration(shared)} of it (then four runs shared the two cores)`
      : '') +
    '.' +
    resumedText(f.runs)
  );
}

/** Runs resumed from a checkpoint (killed earlier): their wall time counts from the resume. */
function resumedText(runs: Metrics[]): string {
  const r = runs.filter((m) => m.resumedFromStep !== null);
  return r.length
    ? ` ${r.map((m) => `${m.run} (from step ${m.resumedFromStep})`).join(' and ')} resumed from a checkpoint after a kill: their wall times count from the resume.`
    : '';
}

function colaDefault(f: Folder): string {
  const metric = metricOf(f.teacher).toUpperCase();
  const rows = [...f.runs].sort(byPreset).map((m) => {
    const t = m.teacher?.metrics[metricOf(m)] ?? NaN,
      best = m.best?.metrics[metricOf(m)] ?? NaN;
    return `| ${m.run} | ${terms(m)} | ${f4(best)} (${m.best?.step ?? '-'}) | ${f4(m.last?.metrics[metricOf(m)])} | ${f4(t)} | ${f4(t - best)} | ${Math.round(m.wallTimeSec).toLocaleString('en')} s |`;
  });
  const t = f.teacher,
    tm = metricOf(t);
  return [
    madeLine(f),
    '',
    `Teacher fine-tuned **from scratch** (${t.steps} steps): dev ${metric} ${f4(t.last?.metrics[tm])} at the last step (${f4(t.best?.metrics[tm])} best, step ${t.best?.step}). ` +
      wallLine(f, folder('cola-seeds')),
    '',
    `| run | KD terms | best dev ${metric} (step) | last ${metric} | FP teacher | gap (teacher - best) | wall time |`,
    '|---|---|---:|---:|---:|---:|---:|',
    ...rows,
  ].join('\n');
}

/** Per preset: best dev metric at each seed, mean, std (n - 1), range; then the preset means' span. */
function colaSeeds(f: Folder): string {
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
  const means = stats.map((s) => s.mean),
    sds = stats.map((s) => s.sd ?? NaN),
    ranges = stats.map((s) => s.range);
  const recipe = f.runs[0].config.train.epochs;
  // the differences the README reports: cola-default's four presets at one seed
  const main = f.name === 'cola-default' ? null : folder('cola-default');
  const mainBest = main ? main.runs.map((r) => r.best?.metrics[metric] ?? NaN).filter(Number.isFinite) : [];
  const mainSpan = mainBest.length > 1 ? Math.max(...mainBest) - Math.min(...mainBest) : null;
  const maxSd = Math.max(...sds);
  const verdict =
    mainSpan === null
      ? ''
      : ` In \`cola-default\` (the full recipe, seed 42 only) the four presets' best dev ${metric.toUpperCase()} differ by at most ${f4(mainSpan)}, ` +
        (mainSpan <= 2 * maxSd
          ? `not more than twice the largest per-preset std measured here: one seed does not rank the presets.`
          : `more than twice the largest per-preset std measured here (a spread measured on the reduced recipe, though).`);
  return [
    madeLine(f),
    ...(f.prov.reduced ? ['', `**Reduced recipe**: ${f.prov.reduced}.`] : []),
    '',
    wallLine(f, main),
    '',
    `| preset (${recipe} epoch${recipe === 1 ? '' : 's'}) | ${seeds.map((s) => `seed ${s}`).join(' | ')} | mean | std | range (max - min) |`,
    `|---|${seeds.map(() => '---:').join('|')}|---:|---:|---:|`,
    ...stats.map((s) => `| ${s.p} | ${s.xs.map(f4).join(' | ')} | ${f4(s.mean)} | ${f4(s.sd)} | ${f4(s.range)} |`),
    '',
    `Best dev ${metric.toUpperCase()} over ${seeds.length} seeds: the std per preset is ${f4(Math.min(...sds))}-${f4(Math.max(...sds))} and the range ${f4(Math.min(...ranges))}-${f4(Math.max(...ranges))}, ` +
      `while the four presets' means differ by at most ${f4(Math.max(...means) - Math.min(...means))}.${verdict}`,
  ].join('\n');
}

function rteReports(f: Folder): string {
  const metric = metricOf(f.teacher);
  return [
    madeLine(f),
    '',
    `**Reduced recipe**: ${f.prov.reduced}.`,
    '',
    `| run | KD terms | best dev ${metric} (step) | last | FP teacher | wall time |`,
    '|---|---|---:|---:|---:|---:|',
    ...[...f.runs]
      .sort(byPreset)
      .map(
        (m) =>
          `| ${m.run} | ${terms(m)} | ${f4(m.best?.metrics[metric])} (${m.best?.step}) | ${f4(m.last?.metrics[metric])} | ${f4(m.teacher?.metrics[metric])} | ${Math.round(m.wallTimeSec)} s |`,
      ),
    '',
    `Reports: \`${RESULTS}/rte-reports/report/index.html\` (sweep report) and \`${RESULTS}/rte-reports/analysis/report.html\` (analysis report), with their PNGs beside them.`,
  ].join('\n');
}

/** A claims study: how it was made, its teacher and floor, and the presets over seeds (the claims are in their own block). */
function study(f: Folder): string {
  const d = studyData(f.name);
  if (!d) throw new UserError(`${RESULTS}/${f.name}: not a study folder`);
  const t = f.teacher,
    tm = metricOf(t);
  return [
    madeLine(f),
    ...(f.prov.reduced ? ['', `**Reduced recipe**: ${f.prov.reduced}.`] : []),
    '',
    `Teacher fine-tuned **from scratch** (${t.steps} steps): dev ${tm.toUpperCase()} ${f4(t.best?.metrics[tm])} best (step ${t.best?.step}), ${f4(t.last?.metrics[tm])} at the last evaluation; the students distil from its final weights (the FP teacher row below). ` +
      wallLine(f),
    '',
    presetsTable(d),
  ].join('\n');
}

const BUILDERS: Record<Block, (f: Folder) => string> = {
  presets: colaDefault,
  seeds: colaSeeds,
  reports: rteReports,
  study,
};

/** The block of an experiment whose folder does not exist yet: no numbers, the command that makes them. */
const pending = (name: string) =>
  `**Not run at this commit yet**: \`npm run results -- --only ${name}\` runs it and writes this block (and \`${RESULTS}/${name}/\`).`;

function replaceBlock(text: string, name: string, from: string, body: string): string {
  const start = `<!-- results:${name}:start -->`,
    end = `<!-- results:${name}:end -->`;
  const i = text.indexOf(start),
    j = text.indexOf(end);
  if (i < 0 || j < i)
    throw new UserError(`README.md has no marker pair ${start} ... ${end}: add it where the block belongs`);
  return `${text.slice(0, i + start.length)}\n<!-- generated by npm run results from ${from}: do not edit by hand -->\n${body}\n${text.slice(j)}`;
}

/**
 * The README with each study's block regenerated (pending when its folder is missing), then the claims block from
 * the studies whose block is "study"; a missing marker pair is an error naming it.
 */
export function regenerate(
  readme: string,
  studies: Pick<Experiment, 'name' | 'block'>[],
): { text: string; updated: string[] } {
  let text = readme;
  const updated: string[] = [];
  for (const { name, block } of studies) {
    const f = folder(name);
    text = replaceBlock(text, name, `${RESULTS}/${name}/`, f ? BUILDERS[block](f) : pending(name));
    if (f) updated.push(name);
  }
  const claimStudies = studies.filter((s) => s.block === 'study').map((s) => s.name);
  if (claimStudies.length) {
    const body = claimsBlock(claimStudies);
    text = replaceBlock(
      text,
      'claims',
      claimStudies.map((n) => `${RESULTS}/${n}/`).join(' and '),
      body ??
        `**Not run at this commit yet**: \`npm run results -- --only ${claimStudies.join(',')}\` runs the studies and writes this block, \`${RESULTS_DOC}\` and \`${CLAIMS_DIR}/\`.`,
    );
    if (body) updated.push('claims');
  }
  return { text, updated };
}

export const readmePath = () => join(PROJECT_ROOT, 'README.md');
export const readReadme = () => readFileSync(readmePath(), 'utf8');
