/**
 * GLUE data on first use, as Hugging Face `datasets` does. A command that needs a task reads it from --data-dir
 * (else GLUE_DIR, else data/glue), or from data/glue when only that holds it (tasks.ts glueDirFor). When neither
 * holds the task's folder, ensureGlueTask downloads it into data/glue with the project's downloader (download.ts:
 * atomic; sizes, zip CRC-32s and the expected TSVs verified; the sha256 of what was fetched recorded in
 * `<Task>/.download.json`), says so in one line (what, from where, into where, size) and returns.
 *
 * Callers call it once the whole command line is validated, just before the data is read. A sweep calls it in its
 * own process before it starts any run or submits a Slurm array, so runs find the data and never fetch it at once.
 * Offline, or on a corrupt download, the error (a user error: exit 2) names the task, the URL tried, GLUE_DIR and
 * `npm run glue:download`, and nothing is left in data/glue.
 */
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../util/errors.js';
import { downloadTask, taskUrl } from './download.js';
import { getTask, glueDirFor, LOCAL_GLUE_DIR, resolveGlueDir, type TaskSpec } from './tasks.js';

export class GlueDownloadError extends UserError {
  constructor(msg: string) {
    super(msg);
    this.name = 'GlueDownloadError';
  }
}

const size = (n: number | undefined): string =>
  n === undefined
    ? 'size not given by the server'
    : n < 1 << 20
      ? `${Math.max(1, Math.round(n / 1024))} KB`
      : `${(n / (1 << 20)).toFixed(1)} MB`;

/**
 * The GLUE directory holding `task` (see glueDirFor), after downloading it into data/glue when no directory holds
 * it. `log` gets the one line that announces a download (default: stderr).
 */
export async function ensureGlueTask(
  task: string | TaskSpec,
  explicit?: string | null,
  log: (s: string) => void = (s) => console.error(s),
): Promise<string> {
  const t = typeof task === 'string' ? getTask(task) : task;
  const dir = glueDirFor(t, explicit);
  if (existsSync(join(dir, t.dir))) return dir;
  const local = LOCAL_GLUE_DIR(),
    primary = resolveGlueDir(explicit);
  const where = primary === local ? `not in ${local}` : `in neither ${primary} nor ${local}`;
  const url = taskUrl(t);
  let created: string | undefined;
  try {
    created = mkdirSync(local, { recursive: true });
    let said = false;
    await downloadTask(t, {
      dataDir: local,
      onFetch: (f) => {
        if (!said)
          log(`GLUE task ${t.dir} is ${where}: downloading ${f.url} (${size(f.bytes)}) into ${join(local, t.dir)}`);
        said = true;
      },
    });
    return local;
  } catch (e) {
    // nothing of a failed download stays: downloadTask removed its temp folder; the folders made here go if empty
    for (let d = local; created && d.length >= created.length; d = join(d, '..')) {
      if (existsSync(d) && readdirSync(d).length === 0) rmSync(d, { recursive: true });
      else break;
    }
    const why = (e as Error).message;
    throw new GlueDownloadError(
      `GLUE task ${t.dir} is ${where}, and downloading it failed: ${why.includes(url) ? '' : `${url}: `}${why}. ` +
        `Set GLUE_DIR (or --data-dir) to a GLUE copy that has ${t.dir}/, or fetch it with: npm run glue:download -- ` +
        `--tasks ${t.name}` +
        ` (env KDQAT_GLUE_URL or --url-base name a mirror)`,
    );
  }
}
