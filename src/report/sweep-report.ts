/**
 * The results of a task's runs (output/<bert>/<task>/<run>/metrics.json): one table row per run (preset,
 * coefficients, seed, best/last dev metric, teacher metric, FP-to-ternary gap), written as CSV and Markdown, plus
 * plots (per-preset bars with seed spread and the teacher as a dashed line; metric vs coefficient per sweep arm;
 * KD loss and dev metric over steps) as SVG + PNG, gathered into one self-contained HTML page.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { atomicWrite } from '../util/fsx.js';
import { provenance } from '../util/provenance.js';
import { getTask } from '../data/tasks.js';
import { mainMetric } from '../data/metrics.js';
import { fromRows, toCsv, toMarkdown, summarize } from './table.js';
import { barChart, lineBand, lossCurves, indexLines } from './charts.js';
import { renderPlot, type VlSpec } from './render.js';
import { writeHtml, type Section } from './html.js';
import { benchmarkSections } from '../export/benchmark-report.js';

interface RunMetrics {
  run: string; task: string; seed: number; preset: string; coeffs: Record<string, number>;
  best: { step: number; metrics: Record<string, number> } | null; last: { step: number; metrics: Record<string, number> } | null;
  teacher: { metrics: Record<string, number> }; wallTimeSec: number; trainTokensPerSec: number; steps: number;
  provenance: { backend: string; git: { commit: string } };
}

export interface RunRow extends Record<string, unknown> {
  run: string; preset: string; map_coeff: number; output_coeff: number; seed: number;
  best: number; last: number; teacher: number; gap: number; best_step: number; steps: number; wall_s: number; tokens_per_s: number;
}

/** Finished runs under outDir, one row each, ordered by preset, coefficients and seed. */
export function collectRuns(outDir: string): { rows: RunRow[]; metric: string; runs: RunMetrics[] } {
  const runs: RunMetrics[] = [];
  for (const d of existsSync(outDir) ? readdirSync(outDir).sort() : []) {
    const p = join(outDir, d, 'metrics.json');
    if (existsSync(p)) runs.push(JSON.parse(readFileSync(p, 'utf8')));
  }
  if (!runs.length) return { rows: [], metric: '', runs };
  const metric = mainMetric(getTask(runs[0].task));
  const pick = (m: Record<string, number> | undefined) => (m ? m[metric] ?? NaN : NaN);
  const rows = runs.map((r): RunRow => ({
    run: r.run, preset: r.preset, map_coeff: r.coeffs.map, output_coeff: r.coeffs.output, seed: r.seed,
    best: pick(r.best?.metrics), last: pick(r.last?.metrics), teacher: pick(r.teacher.metrics),
    gap: pick(r.teacher.metrics) - pick(r.best?.metrics), best_step: r.best?.step ?? NaN, steps: r.steps,
    wall_s: Math.round(r.wallTimeSec), tokens_per_s: Math.round(r.trainTokensPerSec),
  }));
  rows.sort((a, b) => a.preset.localeCompare(b.preset) || a.map_coeff - b.map_coeff || a.output_coeff - b.output_coeff || a.seed - b.seed);
  return { rows, metric, runs };
}

/** Plots of a set of runs (rows from collectRuns; logs read from the run folders). */
function plotSpecs(outDir: string, rows: RunRow[], metric: string, title: string): Record<string, VlSpec> {
  const specs: Record<string, VlSpec> = {};
  const teacher = rows.find((r) => Number.isFinite(r.teacher))?.teacher;
  const reference = teacher !== undefined ? { value: teacher, label: `FP teacher ${teacher.toFixed(3)}` } : undefined;
  specs['presets'] = barChart({ data: rows, category: 'preset', value: 'best', spread: 'minmax', reference, labelFormat: '.3f',
    title: `${title}: best dev ${metric} per KD configuration`, subtitle: 'bars: mean over seeds, whiskers: min..max', xTitle: 'KD configuration', yTitle: `best dev ${metric}`, zeroY: false });
  // sweep arms of the mixing grid: map=1 with output varying, output=1 with map varying
  const mix = rows.filter((r) => r.preset === 'map+output');
  const arms = [
    ...mix.filter((r) => r.map_coeff === 1).map((r) => ({ arm: 'map=1, output coeff varies', coeff: r.output_coeff, best: r.best })),
    ...mix.filter((r) => r.output_coeff === 1).map((r) => ({ arm: 'output=1, map coeff varies', coeff: r.map_coeff, best: r.best })),
  ];
  if (new Set(arms.map((a) => a.coeff)).size > 1) {
    specs['mixing'] = lineBand({ data: arms, x: 'coeff', y: 'best', series: 'arm', seriesTitle: 'sweep arm', spread: 'minmax', reference,
      title: `${title}: dev ${metric} vs loss coefficient`, subtitle: 'line: mean over seeds, band: min..max', xTitle: 'coefficient of the varied term', yTitle: `best dev ${metric}` });
  }
  const loss: Record<string, unknown>[] = [], dev: Record<string, unknown>[] = [];
  for (const r of rows) {
    const log = join(outDir, r.run, 'log.jsonl');
    if (!existsSync(log)) continue;
    for (const line of readFileSync(log, 'utf8').split('\n')) {
      if (!line) continue;
      const e = JSON.parse(line);
      if (e.eval) dev.push({ step: e.step, run: r.run, value: e.eval[metric] });
      else loss.push({ step: e.step, run: r.run, loss: e.loss });
    }
  }
  if (loss.length) specs['loss'] = lossCurves({ data: loss, term: 'run', value: 'loss', seriesTitle: 'run', logY: true, smooth: Math.max(1, Math.round(Math.max(...loss.map((e) => e.step as number)) / 40)), title: `${title}: total KD loss over training`, xTitle: 'step', yTitle: 'KD loss (log scale)' });
  if (dev.length) specs['dev'] = indexLines({ data: dev, x: 'step', y: 'value', series: 'run', points: true, title: `${title}: dev ${metric} at each evaluation`, xTitle: 'step', yTitle: `dev ${metric}` });
  return specs;
}

/** Write report/{results.csv, results.md, *.svg, *.png, index.html} for the runs in outDir. */
export async function writeTaskReport(outDir: string, o: { title: string; grid?: string }): Promise<{ csv: string; md: string; html: string; rows: RunRow[] }> {
  const dir = join(outDir, 'report');
  const { rows, metric, runs } = collectRuns(outDir);
  if (!rows.length) throw new Error(`${outDir}: no finished runs (no */metrics.json) to report`);
  const table = fromRows(rows);
  const csv = join(dir, 'results.csv'), md = join(dir, 'results.md');
  atomicWrite(csv, toCsv(table));
  const summary = summarize(table, { by: ['preset', 'map_coeff', 'output_coeff'], values: ['best', 'last'], stats: ['mean', 'std', 'min', 'max', 'count'] });
  atomicWrite(md, `# ${o.title}: dev ${metric}\n\n${toMarkdown(table, { digits: 4 })}\n\n## Mean over seeds\n\n${toMarkdown(summary, { digits: 4 })}\n`);
  const sections: Section[] = [
    { kind: 'text', text: `Dev **${metric}** of ${rows.length} finished KD-QAT runs in \`${outDir}\`${o.grid ? ` (grid \`${basename(o.grid)}\`)` : ''}. ` +
      `"best" is the best evaluation by the reference's selection rule, "last" the last evaluation, "gap" = FP teacher - best.` },
    { kind: 'table', title: 'Runs', table, digits: 4 },
    { kind: 'table', title: 'Mean over seeds', table: summary, digits: 4 },
  ];
  for (const [name, spec] of Object.entries(plotSpecs(outDir, rows, metric, o.title))) {
    const r = await renderPlot(spec, join(dir, name));
    sections.push({ kind: 'plot', svg: r.svgText });
  }
  const bench = benchmarkSections(join(outDir, 'benchmark')); // npm run benchmark's table, when it was run
  if (bench) sections.push({ kind: 'heading', text: 'Deployment: size, latency, accuracy (npm run benchmark)' }, ...bench);
  const html = await writeHtml(join(dir, 'index.html'), {
    title: `kdqat results: ${o.title}`, sections,
    provenance: { report: provenance(), runs: runs.map((r) => ({ run: r.run, backend: r.provenance?.backend, git: r.provenance?.git?.commit })) },
  });
  return { csv, md, html, rows };
}
