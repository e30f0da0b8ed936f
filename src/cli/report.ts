/**
 * npm run report -- --task cola [--bert tiny] [--dir output/tiny/cola]
 * Results table (CSV, Markdown) and plots (SVG, PNG, one HTML page) of the finished runs of a task.
 */
import { join } from 'node:path';
import { getTask } from '../data/tasks.js';
import { OUTPUT_DIR } from '../sweep/run-setup.js';
import { writeTaskReport } from '../report/sweep-report.js';
import { initBackend } from '../backend/backend.js';
import { parseFlags, runMain, UsageError } from './common.js';

const FLAGS = {
  task: { type: 'string', help: 'GLUE task' },
  bert: { type: 'string', help: 'teacher model name under output/ (default tiny)' },
  dir: { type: 'string', help: 'the folder holding the runs (default output/<bert>/<task>)' },
} as const;

runMain('report', async () => {
  const v = parseFlags(FLAGS, 'npm run report -- --task <t> [--bert tiny] [--dir DIR]');
  if (!v.task && !v.dir) throw new UsageError('--task (or --dir) is required');
  const task = v.task ? getTask(v.task as string).name : '';
  await initBackend('cpu', { quiet: true }); // provenance records a backend; no tensors are computed here
  const bert = (v.bert as string | undefined) ?? (v.dir ? undefined : 'tiny');
  const dir = (v.dir as string | undefined) ?? join(OUTPUT_DIR(), bert!, task);
  const r = await writeTaskReport(dir, { title: `${task || dir}${bert ? ` (${bert})` : ''}`, task: task || undefined });
  console.log(`${r.rows.length} runs\n  table ${r.csv}\n  ${r.md}\n  report ${r.html}`);
});
