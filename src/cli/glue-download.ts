/**
 * npm run glue:download -- --tasks cola,rte [--data-dir DIR] [--url-base URL] [--mrpc-url-base URL] [--force]
 *
 * Fetches the official GLUE archives (see src/data/download.ts) into DIR (default: env GLUE_DIR, else data/glue).
 * Exit status 1 when any task failed.
 */
import { parseArgs } from 'node:util';
import { downloadGlue } from '../data/download.js';
import { resolveGlueDir, TASK_NAMES } from '../data/tasks.js';

const USAGE = `usage: npm run glue:download -- --tasks cola,rte|all [--data-dir DIR] [--url-base URL] [--mrpc-url-base URL] [--force]
tasks: ${TASK_NAMES.join(', ')} (or the directory names CoLA, SST-2, ...)`;

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        tasks: { type: 'string' }, 'data-dir': { type: 'string' }, 'url-base': { type: 'string' },
        'mrpc-url-base': { type: 'string' }, force: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) { console.error(`${(e as Error).message}\n${USAGE}`); return 2; }
  if (values.help) { console.log(USAGE); return 0; }
  if (!values.tasks) { console.error(`--tasks is required\n${USAGE}`); return 2; }
  const dataDir = resolveGlueDir(values['data-dir']);
  console.log(`GLUE data dir: ${dataDir}`);
  let results;
  try {
    results = await downloadGlue({
      tasks: values.tasks.split(',').map((s) => s.trim()).filter(Boolean), dataDir, urlBase: values['url-base'],
      mrpcUrlBase: values['mrpc-url-base'], force: values.force,
    });
  } catch (e) { console.error(`error: ${(e as Error).message}`); return 2; }
  const failed = results.filter((r) => r.status === 'failed');
  console.log(`${results.length - failed.length} task(s) ready, ${failed.length} failed`);
  return failed.length ? 1 : 0;
}

process.exitCode = await main();
