/**
 * The benchmark's outputs in `dir`: benchmark.csv (full precision), benchmark.md (the table with machine, backend,
 * threads, date and the simulated-latency note), benchmark.json (rows + provenance), metric-vs-size and
 * metric-vs-latency plots (vega-lite -> SVG + PNG) and index.html gathering them.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { backendInfo } from '../backend/backend.js';
import { provenance } from '../backend/provenance.js';
import type { BenchOptions, BenchRow } from '../export/benchmark.js';
import { INTEGER, SIMULATED } from '../export/kernels.js';
import { atomicWrite, atomicWriteJson } from '../util/fsx.js';
import { scatter } from './charts-points.js';
import { type Section, writeHtml } from './html.js';
import { renderPlot } from './render.js';
import { fromRows, toCsv, toMarkdown } from './table.js';

/** The rows as displayed: rounded, the measured metric named by the task's metric */
function displayRows(rows: BenchRow[]): Record<string, unknown>[] {
  return rows.map((r) => ({
    model: r.model,
    'size (MB)': Number(r.size_mb.toFixed(3)),
    'latency b=1 (ms)': `${r.latency_ms.toFixed(1)} (${r.latency_p25_ms.toFixed(1)}-${r.latency_p75_ms.toFixed(1)})`,
    'throughput b=32 (ex/s)': Number(r.throughput_ex_s.toFixed(1)),
    [`dev ${r.metric}`]: Number(r.value.toFixed(4)),
    'latency measured on': r.latency_path,
    backend: `${r.backend}, ${r.threads} thread${r.threads > 1 ? 's' : ''}`,
    ...(rows.some((x) => x.run_value !== null && x.run_value !== undefined)
      ? { [`run's own dev ${r.metric}`]: r.run_value ?? '' }
      : {}),
  }));
}

/** What the numbers are, in one paragraph (Markdown) */
export function benchmarkNote(
  rows: BenchRow[],
  o: Pick<BenchOptions, 'reps' | 'warmup' | 'throughputReps'>,
  task: string,
  devN: number,
  seqLen: number,
): string {
  const m = backendInfo().machine;
  const simulated = rows.some((r) => r.latency_path === SIMULATED);
  const integer = rows.some((r) => r.latency_path === INTEGER);
  const batches = [...new Set(rows.map((r) => r.eval_batch).filter((b) => b !== undefined))];
  return (
    `${task.toUpperCase()} dev (${devN} examples, length ${seqLen}); ${m.cores}x ${m.cpus}, ${m.memGiB} GiB, node ` +
    `${m.node}, ` +
    `backend ${rows[0]?.backend} (${rows[0]?.threads} thread${(rows[0]?.threads ?? 1) > 1 ? 's' : ''}), ` +
    `${new Date().toISOString().slice(0, 10)}. ` +
    `Latency: median (quartiles) of ${o.reps} single-example forwards after ${o.warmup} warm-up, interleaved across ` +
    `the models; throughput: median of ${o.throughputReps} batch-32 forwards. ` +
    `Size: the model file on disk (MB = 10^6 bytes).` +
    (batches.length
      ? ` Dev metric at evaluation batch ${batches.join(', ')} (8-bit activation scales are computed per batch, so a ` +
        `quantized model's metric depends on it; "run's own" is the metric a student scored in its run).`
      : '') +
    (simulated && !integer
      ? ` **Quantized rows are "${SIMULATED}"**: this backend has no integer kernels, so their products run as ` +
        `float32 on integer-valued tensors; their latency shows the cost of the quantizers, not an integer speed-up.`
      : '') +
    (simulated && integer
      ? ` **Rows marked "${SIMULATED}"** have no integer kernel on this backend (rows marked "${INTEGER}" do), so ` +
        `their products run as float32 on integer-valued tensors; their latency shows the cost of the quantizers, ` +
        `not an ` +
        `integer speed-up.`
      : '')
  );
}

export async function writeBenchmarkReport(
  dir: string,
  rows: BenchRow[],
  note: string,
  title: string,
): Promise<{ csv: string; md: string; html: string; markdown: string }> {
  const shown = fromRows(displayRows(rows));
  const csv = join(dir, 'benchmark.csv'),
    md = join(dir, 'benchmark.md');
  atomicWrite(csv, toCsv(fromRows(rows)));
  const markdown = toMarkdown(shown, { digits: tableDigits(rows) });
  atomicWrite(md, `# ${title}\n\n${markdown}\n\n${note}\n`);
  atomicWriteJson(join(dir, 'benchmark.json'), { rows, note, provenance: provenance() });
  const metric = rows[0]?.metric ?? 'metric';
  const plotRows = rows.map((r) => ({
    model: r.model,
    size_mb: r.size_mb,
    latency_ms: r.latency_ms,
    value: r.value,
    path: r.latency_path,
  }));
  const specs = {
    'metric-vs-size': scatter({
      data: plotRows,
      x: 'size_mb',
      y: 'value',
      series: 'model',
      shape: 'path',
      shapeTitle: 'latency measured on',
      title: `${title}: dev ${metric} vs model size`,
      xTitle: 'model file size (MB)',
      yTitle: `dev ${metric}`,
    }),
    'metric-vs-latency': scatter({
      data: plotRows,
      x: 'latency_ms',
      y: 'value',
      series: 'model',
      shape: 'path',
      shapeTitle: 'latency measured on',
      title: `${title}: dev ${metric} vs latency at batch 1`,
      subtitle: 'simulated rows: fake-quantized FP32, not integer kernels',
      xTitle: 'median latency per example (ms)',
      yTitle: `dev ${metric}`,
    }),
  };
  for (const [name, spec] of Object.entries(specs)) await renderPlot(spec, join(dir, name));
  const html = await writeHtml(join(dir, 'index.html'), {
    title: `kdqat benchmark: ${title}`,
    sections: benchmarkSections(dir)!,
    provenance: provenance(),
  });
  return { csv, md, html, markdown };
}

const tableDigits = (rows: BenchRow[]) => ({
  '*': 3,
  'throughput b=32 (ex/s)': 1,
  [`dev ${rows[0]?.metric}`]: 4,
  [`run's own dev ${rows[0]?.metric}`]: 4,
});

/** The benchmark written in `dir` as report sections (note, table, plots), or null when there is none */
export function benchmarkSections(dir: string): Section[] | null {
  const f = join(dir, 'benchmark.json');
  if (!existsSync(f)) return null;
  const { rows, note } = JSON.parse(readFileSync(f, 'utf8')) as { rows: BenchRow[]; note: string };
  const sections: Section[] = [
    { kind: 'text', text: note },
    {
      kind: 'table',
      title: 'Size, latency, throughput, accuracy',
      table: displayRows(rows),
      digits: tableDigits(rows),
    },
  ];
  for (const name of ['metric-vs-size', 'metric-vs-latency'])
    if (existsSync(join(dir, `${name}.svg`))) sections.push({ kind: 'plot', file: join(dir, `${name}.svg`) });
  return sections;
}
