/**
 * npm run glue:download -- --tasks cola,rte [--data-dir DIR] [--url-base URL] [--mrpc-url-base URL] [--force]
 * (training and analysis commands fetch a missing task by themselves: src/data/first-use.ts)
 *
 * Fetches the official GLUE archives (see src/data/download.ts) into DIR (default: env GLUE_DIR, else data/glue).
 * Exit status 1 when any task failed.
 */
import { downloadGlue } from '../data/download.js';
import { resolveGlueDir, TASK_NAMES } from '../data/tasks.js';
import { parseFlags, runMain, UsageError } from './common.js';

const FLAGS = {
  tasks: {
    type: 'string',
    help: `comma-separated tasks, or "all": ${TASK_NAMES.join(', ')} (or the directory names CoLA, SST-2, ...)`,
  },
  'data-dir': { type: 'string', help: 'GLUE directory to fill (default: $GLUE_DIR, else data/glue)' },
  'url-base': {
    type: 'string',
    help: 'where the task archives are served (default: env KDQAT_GLUE_URL, else the official GLUE host)',
  },
  'mrpc-url-base': {
    type: 'string',
    help: 'where the MRPC source files are served (default: the official SentEval host)',
  },
  force: { type: 'boolean', help: 'download again even when a task is complete' },
} as const;

runMain('glue:download', async () => {
  const v = parseFlags(FLAGS, 'npm run glue:download -- --tasks cola,rte|all [--data-dir DIR] [--force]');
  if (typeof v.tasks !== 'string') throw new UsageError('--tasks is required');
  const dataDir = resolveGlueDir(v['data-dir'] as string | undefined);
  console.log(`GLUE data dir: ${dataDir}`);
  const results = await downloadGlue({
    tasks: v.tasks
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    dataDir,
    urlBase: v['url-base'] as string | undefined,
    mrpcUrlBase: v['mrpc-url-base'] as string | undefined,
    force: v.force === true,
  });
  const failed = results.filter((r) => r.status === 'failed');
  console.log(`${results.length - failed.length} task(s) ready, ${failed.length} failed`);
  return failed.length ? 1 : 0;
});
