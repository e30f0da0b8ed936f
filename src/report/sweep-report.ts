/**
 * The results of a task's runs (output/<bert>/<task>/<run>/metrics.json): one table row per run (preset,
 * coefficients, seed, best/last dev metric, teacher metric, FP-to-ternary gap), written as CSV and Markdown, plus
 * plots (per-preset bars with seed spread and the teacher as a dashed line; metric vs coefficient per sweep arm;
 * KD loss and dev metric over steps) as SVG + PNG, gathered into one self-contained HTML page. The rows come from
 * sweep-runs.ts.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { atomicWrite } from '../util/fsx.js';
import { provenance } from '../backend/provenance.js';
import { getTask } from '../data/tasks.js';
import { fromRows, toCsv, toMarkdown } from './table.js';
import { UserError } from '../util/errors.js';
import { barChart } from './charts-dist.js';
import { indexLines, lineBand, lossCurves } from './charts-lines.js';
import { renderPlot, type VlSpec } from './render.js';
import { writeHtml, type Section } from './html.js';
import { benchmarkSections } from './benchmark-report.js';
import { collectRuns, seedSummary, RECIPE_COLUMNS, type RunRow } from './sweep-runs.js';

/** Plots of a set of runs (rows from collectRuns; logs read from the run folders). */
function plotSpecs(
  outDir: string,
  rows: RunRow[],
  perSeed: RunRow[],
  metric: string,
  title: string,
  severalTeachers = false,
): Record<string, VlSpec> {
  const specs: Record<string, VlSpec> = {};
  const width = 700; // with the axis and the legend or reference label about the page's 1086 px content width
  const teacher = rows.find((r) => Number.isFinite(r.teacher))?.teacher;
  const reference =
    teacher !== undefined && !severalTeachers
      ? { value: teacher, label: `FP teacher ${teacher.toFixed(3)}` }
      : undefined;
  // several recipes (limits, epochs, ...): one bar per preset and recipe, never one average over both
  const SHORT: Record<string, string> = {
    train_limit: 'train',
    eval_limit: 'eval',
    epochs: 'ep',
    max_steps: 'steps',
    max_seq_len: 'len',
    batch: 'batch',
    lr: 'lr',
  };
  const varying = RECIPE_COLUMNS.filter((c) => new Set(perSeed.map((x) => x[c])).size > 1);
  const bars = perSeed.map((r) => ({
    ...r,
    config: varying.length ? `${r.preset} (${varying.map((c) => `${SHORT[c]} ${r[c]}`).join(', ')})` : r.preset,
  }));
  specs.presets = barChart({
    data: bars,
    category: 'config',
    value: 'best',
    spread: 'minmax',
    reference,
    labelFormat: '.3f',
    width,
    title: `${title}: best dev ${metric} per KD configuration`,
    subtitle: 'bars: mean over seeds, whiskers: min..max',
    xTitle: 'KD configuration',
    yTitle: `best dev ${metric}`,
    zeroY: false,
  });
  // sweep arms of the mixing grid: map=1 with output varying, output=1 with map varying
  const mix = perSeed.filter((r) => r.preset === 'map+output');
  const arms = [
    ...mix
      .filter((r) => r.map_coeff === 1)
      .map((r) => ({ arm: 'map=1, output coeff varies', coeff: r.output_coeff, best: r.best })),
    ...mix
      .filter((r) => r.output_coeff === 1)
      .map((r) => ({ arm: 'output=1, map coeff varies', coeff: r.map_coeff, best: r.best })),
  ];
  if (new Set(arms.map((a) => a.coeff)).size > 1) {
    specs.mixing = lineBand({
      data: arms,
      x: 'coeff',
      y: 'best',
      series: 'arm',
      seriesTitle: 'sweep arm',
      spread: 'minmax',
      reference,
      width,
      title: `${title}: dev ${metric} vs loss coefficient`,
      subtitle: 'line: mean over seeds, band: min..max',
      xTitle: 'coefficient of the varied term',
      yTitle: `best dev ${metric}`,
    });
  }
  const loss: Record<string, unknown>[] = [],
    dev: Record<string, unknown>[] = [];
  for (const r of rows) {
    const log = join(outDir, r.run, 'log.jsonl');
    if (!existsSync(log)) continue;
    for (const line of readFileSync(log, 'utf8').split('\n')) {
      if (!line) continue;
      const e = JSON.parse(line);
      if (e.eval) dev.push({ step: e.step, run: r.run, value: e.eval[metric] });
      // not the final weights' evaluation ("final")
      else if (typeof e.loss === 'number') loss.push({ step: e.step, run: r.run, loss: e.loss });
    }
  }
  if (loss.length)
    specs.loss = lossCurves({
      data: loss,
      term: 'run',
      value: 'loss',
      seriesTitle: 'run',
      logY: 'auto',
      smooth: Math.max(1, Math.round(Math.max(...loss.map((e) => e.step as number)) / 40)),
      width,
      title: `${title}: total KD loss over training`,
      xTitle: 'step',
      yTitle: 'KD loss',
    });
  if (dev.length)
    specs.dev = indexLines({
      data: dev,
      x: 'step',
      y: 'value',
      series: 'run',
      points: true,
      yFormat: '.4~f',
      width,
      title: `${title}: dev ${metric} at each evaluation`,
      xTitle: 'step',
      yTitle: `dev ${metric}`,
    });
  return specs;
}

/** Write report/{results.csv, results.md, *.svg, *.png, index.html} for the runs in outDir. */
export async function writeTaskReport(
  outDir: string,
  o: { title: string; grid?: string; task?: string },
): Promise<{ csv: string; md: string; html: string; rows: RunRow[] }> {
  const dir = join(outDir, 'report');
  const { rows, metric, runs, notes: taskNotes, teachers } = collectRuns(outDir, o.task);
  if (!rows.length) {
    // a sweep's --out folder holds the runs in <out>/<task>/: name them
    const inner = existsSync(outDir)
      ? readdirSync(outDir).filter((d) => {
          try {
            getTask(d);
          } catch {
            return false;
          }
          return (
            (!o.task || getTask(d).name === getTask(o.task).name) &&
            collectRuns(join(outDir, d), o.task).rows.length > 0
          );
        })
      : [];
    const hint = inner.length
      ? `; it looks like a sweep's --out folder: its runs are in ${inner.map((d) => join(outDir, d)).join(', ')} ` +
        `(pass --dir ${join(outDir, inner[0])})`
      : '';
    throw new UserError(
      `${outDir}: no finished runs${o.task ? ` of ${o.task}` : ''} (no */metrics.json) to ` +
        `report${taskNotes.length ? ` (${taskNotes.join(' ')})` : ''}${hint}`,
    );
  }
  const table = fromRows(rows);
  const csv = join(dir, 'results.csv'),
    md = join(dir, 'results.md');
  atomicWrite(csv, toCsv(table));
  const { summary: sumRows, perSeed, notes: seedNotes } = seedSummary(rows);
  const summary = fromRows(sumRows);
  const notes = [...taskNotes, ...seedNotes];
  const noteText = notes.length ? `\n\nNotes: ${notes.join(' ')}` : '';
  const warningsMd = [...new Set(runs.map((r) => r.teacher.warning).filter(Boolean))]
    .map((w) => `**Warning:** ${w}.\n\n`)
    .join('');
  atomicWrite(
    md,
    `# ${o.title}: dev ${metric}\n\n` +
      warningsMd +
      `${toMarkdown(table, { digits: 4 })}\n\n## ` +
      `Mean over seeds\n\n${toMarkdown(summary, { digits: 4 })}${noteText}\n`,
  );
  // a teacher that learnt nothing (train/teacher-health.ts) is said before anything else
  const warned = [...new Map(runs.filter((r) => r.teacher.warning).map((r) => [r.teacher.dir ?? r.run, r])).values()];
  const warnings = warned.map(
    (r) =>
      `**Warning:** ${r.teacher.warning}${r.teacher.dir ? ` (teacher \`${r.teacher.dir}\`)` : ''}; runs: ${runs
        .filter((x) => x.teacher.warning === r.teacher.warning && x.teacher.dir === r.teacher.dir)
        .map((x) => x.run)
        .join(', ')}.`,
  );
  const sections: Section[] = [
    ...warnings.map((text): Section => ({ kind: 'text', text })),
    {
      kind: 'text',
      text:
        `Dev **${metric}** of ${rows.length} finished KD-QAT runs in ` +
        `\`${outDir}\`${o.grid ? ` (grid \`${basename(o.grid)}\`)` : ''}. ` +
        `"best" is the best evaluation by the reference's selection rule, "last" the last evaluation, "gap" = FP ` +
        `teacher - best; ` +
        `train/eval limit, epochs, max steps, length, batch and lr tell the runs' recipes apart, and the means are ` +
        `over distinct seeds of one recipe.${noteText}`,
    },
    { kind: 'table', title: 'Runs', table, digits: 4 },
    { kind: 'table', title: 'Mean over seeds', table: summary, digits: 4 },
  ];
  for (const [name, spec] of Object.entries(plotSpecs(outDir, rows, perSeed, metric, o.title, (teachers ?? 1) > 1))) {
    const r = await renderPlot(spec, join(dir, name));
    sections.push({ kind: 'plot', svg: r.svgText });
  }
  const bench = benchmarkSections(join(outDir, 'benchmark')); // npm run benchmark's table, when it was run
  if (bench)
    sections.push({ kind: 'heading', text: 'Deployment: size, latency, accuracy (npm run benchmark)' }, ...bench);
  const html = await writeHtml(join(dir, 'index.html'), {
    title: `kdqat results: ${o.title}`,
    sections,
    provenance: {
      report: provenance(),
      runs: runs.map((r) => ({ run: r.run, backend: r.provenance?.backend, git: r.provenance?.git?.commit })),
    },
  });
  return { csv, md, html, rows };
}
