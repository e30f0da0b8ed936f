/**
 * GLUE downloader, following the well-known download_glue_data.py: task zips from
 * https://dl.fbaipublicfiles.com/glue/data/<name>.zip (QQP-clean.zip, QNLIv2.zip for QQP, QNLI), and MRPC built from
 * SentEval's msr_paraphrase_{train,test}.txt split with mrpc_dev_ids.tsv exactly as that script's format_mrpc.
 *
 * Atomic install: everything is fetched and extracted into a temp dir inside the data dir, then checked, then the
 * task dir is renamed into place. A failed or interrupted download never leaves `<dataDir>/<Task>` behind.
 *
 * What is verified (no table of the upstream files' sha256 exists to check against, so the checks are the ones the
 * data itself allows): the byte count against Content-Length; every zip entry's size and CRC-32 against the zip's
 * central directory (zip.ts); the task's expected TSVs present, non-empty and tab-separated (checkTaskDir).
 * What is recorded: `<Task>/.download.json` with each fetched file's URL, size and sha256, so a later copy can be
 * compared with this one.
 *
 * Host: `urlBase`, else env KDQAT_GLUE_URL (a mirror, or a test's loopback server), else the official host.
 */
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { getTask, TASKS, type TaskSpec } from './tasks.js';
import { pyStrip } from './tsv.js';
import { extractZip } from './zip.js';

export const GLUE_URL_BASE = 'https://dl.fbaipublicfiles.com/glue/data';
export const SENTEVAL_URL_BASE = 'https://dl.fbaipublicfiles.com/senteval/senteval_data';
/** The record of a download in the task dir (URL, size, sha256 of each fetched file). */
export const DOWNLOAD_RECORD = '.download.json';
const ZIP_NAMES: Record<string, string> = {
  CoLA: 'CoLA.zip',
  'SST-2': 'SST-2.zip',
  'STS-B': 'STS-B.zip',
  QQP: 'QQP-clean.zip',
  MNLI: 'MNLI.zip',
  QNLI: 'QNLIv2.zip',
  RTE: 'RTE.zip',
  WNLI: 'WNLI.zip',
};

export interface DownloadOptions {
  /** task names (reference or directory spelling) or 'all' */
  tasks: string[];
  dataDir: string;
  /** base URL of the task zips and mrpc_dev_ids.tsv */
  urlBase?: string;
  /** base URL of msr_paraphrase_*.txt; default SentEval's, or urlBase when that is given */
  mrpcUrlBase?: string;
  /** replace a task dir that already exists */
  force?: boolean;
  log?: (s: string) => void;
  /** called as each file's response arrives (its size when the server says it) */
  onFetch?: (f: { url: string; bytes: number | undefined }) => void;
}

/** One fetched file as recorded in `<Task>/.download.json`. */
export interface FetchedFile {
  url: string;
  bytes: number;
  sha256: string;
}

export interface DownloadResult {
  dir: string;
  path: string;
  status: 'installed' | 'present' | 'failed';
  error?: string;
}

/** Files a task directory must hold: the union of the files of every task living in it. */
export function expectedFiles(dir: string): string[] {
  const set = new Set<string>();
  for (const t of Object.values(TASKS)) if (t.dir === dir) for (const f of Object.values(t.files)) set.add(f);
  return [...set].sort();
}

/** Problems with a task dir (missing, empty or non-TSV files); [] when complete. */
export function checkTaskDir(path: string, dir: string): string[] {
  const bad: string[] = [];
  for (const f of expectedFiles(dir)) {
    const p = join(path, f);
    if (!existsSync(p)) {
      bad.push(`${f} missing`);
      continue;
    }
    if (statSync(p).size === 0) {
      bad.push(`${f} is empty`);
      continue;
    }
    const head = readFileSync(p).subarray(0, 65536).toString('utf8').split(/\r?\n/)[0];
    if (!head.includes('\t')) bad.push(`${f}: first line has no tab (not a TSV)`);
  }
  return bad;
}

async function fetchToFile(
  url: string,
  dest: string,
  label: string,
  log: (s: string) => void,
  onFetch?: DownloadOptions['onFetch'],
): Promise<FetchedFile> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new Error(
      `GET ${url} failed: ` +
        `${(e as Error).message}${(e as { cause?: Error }).cause ? ` (${(e as { cause: Error }).cause.message})` : ''}`,
    );
  }
  if (!res.ok || !res.body) throw new Error(`GET ${url}: HTTP ${res.status} ${res.statusText}`);
  const total = Number(res.headers.get('content-length') ?? NaN);
  onFetch?.({ url, bytes: Number.isFinite(total) ? total : undefined });
  const sha = createHash('sha256');
  const fd = openSync(dest, 'w');
  let got = 0,
    lastPct = -1,
    lastT = Date.now();
  const mb = (n: number) => (n / 1048576).toFixed(1);
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      writeSync(fd, chunk);
      sha.update(chunk);
      got += chunk.length;
      const pct = Number.isFinite(total) && total > 0 ? Math.floor((100 * got) / total / 25) * 25 : -1;
      if (pct > lastPct || Date.now() - lastT > 5000) {
        log(`  ${label}: ${mb(got)} MB${Number.isFinite(total) ? ` / ${mb(total)} MB` : ''}`);
        lastPct = Math.max(pct, lastPct);
        lastT = Date.now();
      }
    }
  } catch (e) {
    throw new Error(`GET ${url}: connection broke after ${got} bytes (${(e as Error).message})`);
  } finally {
    closeSync(fd);
  }
  if (Number.isFinite(total) && got !== total)
    throw new Error(`GET ${url}: received ${got} of ${total} bytes (truncated)`);
  return { url, bytes: got, sha256: sha.digest('hex') };
}

const lines = (text: string): string[] => {
  const l = text.split(/\r\n|\r|\n/);
  if (l.at(-1) === '') l.pop();
  return l;
};

function five(row: string, file: string, i: number): string[] {
  const f = pyStrip(row).split('\t');
  if (f.length !== 5) throw new Error(`${file}:${i + 1}: expected 5 tab-separated fields, got ${f.length}`);
  return f;
}

/** format_mrpc of download_glue_data.py: writes train.tsv, dev.tsv, test.tsv into `dir`, which holds the raw files. */
export function formatMrpc(dir: string): void {
  const trainRaw = join(dir, 'msr_paraphrase_train.txt'),
    testRaw = join(dir, 'msr_paraphrase_test.txt');
  const test = lines(readFileSync(testRaw, 'utf8'));
  let out = 'index\t#1 ID\t#2 ID\t#1 String\t#2 String\n';
  test.slice(1).forEach((row, idx) => {
    const [, id1, id2, s1, s2] = five(row, testRaw, idx + 1);
    out += `${idx}\t${id1}\t${id2}\t${s1}\t${s2}\n`;
  });
  writeFileSync(join(dir, 'test.tsv'), out);
  const devIds = new Set(
    lines(readFileSync(join(dir, 'dev_ids.tsv'), 'utf8')).map((r) => JSON.stringify(pyStrip(r).split('\t'))),
  );
  const train = lines(readFileSync(trainRaw, 'utf8'));
  let tr = train[0] + '\n',
    dv = train[0] + '\n';
  train.slice(1).forEach((row, i) => {
    const [label, id1, id2, s1, s2] = five(row, trainRaw, i + 1);
    const line = `${label}\t${id1}\t${id2}\t${s1}\t${s2}\n`;
    if (devIds.has(JSON.stringify([id1, id2]))) dv += line;
    else tr += line;
  });
  writeFileSync(join(dir, 'train.tsv'), tr);
  writeFileSync(join(dir, 'dev.tsv'), dv);
}

/** Directory inside an extracted archive that holds the task files. */
function locate(root: string, dir: string): string {
  if (existsSync(join(root, dir)) && statSync(join(root, dir)).isDirectory()) return join(root, dir);
  if (expectedFiles(dir).some((f) => existsSync(join(root, f)))) return root;
  const subdirs = readdirSync(root).filter((n) => n !== '__MACOSX' && statSync(join(root, n)).isDirectory());
  if (subdirs.length === 1) return join(root, subdirs[0]);
  throw new Error(`archive has no ${dir}/ directory (top level: ${readdirSync(root).join(', ') || 'empty'})`);
}

/** Where the task's files are fetched from: the task zip's URL (MRPC: the base of its SentEval source files). */
export function taskUrl(t: TaskSpec, o: Pick<DownloadOptions, 'urlBase' | 'mrpcUrlBase'> = {}): string {
  const { urlBase, mrpcBase } = bases(o);
  return t.dir === 'MRPC' ? `${mrpcBase}/msr_paraphrase_{train,test}.txt` : `${urlBase}/${ZIP_NAMES[t.dir]}`;
}

function bases(o: Pick<DownloadOptions, 'urlBase' | 'mrpcUrlBase'>): { urlBase: string; mrpcBase: string } {
  const given = o.urlBase ?? (process.env.KDQAT_GLUE_URL || undefined);
  const urlBase = (given ?? GLUE_URL_BASE).replace(/\/$/, '');
  return { urlBase, mrpcBase: (o.mrpcUrlBase ?? (given ? urlBase : SENTEVAL_URL_BASE)).replace(/\/$/, '') };
}

/** Fetch, verify and install one task (see the file's comment); throws on failure, leaving nothing behind. */
export async function downloadTask(
  t: TaskSpec,
  o: Omit<DownloadOptions, 'tasks'>,
  log: (s: string) => void = () => {},
): Promise<DownloadResult> {
  const dir = t.dir,
    target = join(o.dataDir, dir);
  if (existsSync(target)) {
    const bad = checkTaskDir(target, dir);
    if (!o.force) {
      if (bad.length === 0) {
        log(`${dir}: already present in ${target}`);
        return { dir, path: target, status: 'present' };
      }
      throw new Error(`${target} exists but is incomplete (${bad.join('; ')}); rerun with --force to replace it`);
    }
  }
  const { urlBase, mrpcBase } = bases(o);
  const fetched: FetchedFile[] = [];
  mkdirSync(o.dataDir, { recursive: true });
  const tmp = mkdtempSync(join(o.dataDir, `.${dir}.partial-`));
  try {
    let staged: string;
    if (dir === 'MRPC') {
      staged = join(tmp, 'MRPC');
      mkdirSync(staged);
      fetched.push(
        await fetchToFile(
          `${mrpcBase}/msr_paraphrase_train.txt`,
          join(staged, 'msr_paraphrase_train.txt'),
          'MRPC train',
          log,
          o.onFetch,
        ),
      );
      fetched.push(
        await fetchToFile(
          `${mrpcBase}/msr_paraphrase_test.txt`,
          join(staged, 'msr_paraphrase_test.txt'),
          'MRPC test',
          log,
          o.onFetch,
        ),
      );
      fetched.push(
        await fetchToFile(`${urlBase}/mrpc_dev_ids.tsv`, join(staged, 'dev_ids.tsv'), 'MRPC dev ids', log, o.onFetch),
      );
      formatMrpc(staged);
    } else {
      const zipPath = join(tmp, ZIP_NAMES[dir]),
        url = `${urlBase}/${ZIP_NAMES[dir]}`;
      fetched.push(await fetchToFile(url, zipPath, dir, log, o.onFetch));
      log(`  ${dir}: extracting`);
      const root = join(tmp, 'x');
      extractZip(readFileSync(zipPath), root, url);
      rmSync(zipPath);
      staged = locate(root, dir);
    }
    const bad = checkTaskDir(staged, dir);
    if (bad.length) throw new Error(`downloaded ${dir} is incomplete: ${bad.join('; ')}`);
    writeFileSync(
      join(staged, DOWNLOAD_RECORD),
      JSON.stringify(
        {
          task: dir,
          downloaded: new Date().toISOString(),
          files: fetched,
          verified:
            'sizes against Content-Length; zip entries against their CRC-32 and size; expected TSVs present, ' +
            'non-empty, tab-separated',
        },
        null,
        2,
      ) + '\n',
    );
    // another download of the same task (a second command fetching it at once) may have installed it meanwhile:
    // without --force, its complete copy is kept and this one dropped
    const meanwhile = () => !o.force && existsSync(target) && checkTaskDir(target, dir).length === 0;
    const theirs = (): DownloadResult => {
      log(`${dir}: installed meanwhile by another download in ${target}`);
      return { dir, path: target, status: 'present' };
    };
    if (meanwhile()) return theirs();
    const old = join(tmp, 'previous');
    const replacing = existsSync(target);
    if (replacing) renameSync(target, old);
    try {
      renameSync(staged, target);
    } catch (e) {
      if (replacing) renameSync(old, target);
      else if (meanwhile()) return theirs();
      throw e;
    }
    log(`${dir}: installed in ${target}`);
    return { dir, path: target, status: 'installed' };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Download the given tasks; failures are reported per task and do not stop the others. */
export async function downloadGlue(o: DownloadOptions): Promise<DownloadResult[]> {
  const log = o.log ?? ((s: string) => console.log(s));
  const names = o.tasks.some((t) => t.toLowerCase() === 'all') ? Object.keys(TASKS) : o.tasks;
  const specs = [...new Map(names.map((n) => getTask(n)).map((t) => [t.dir, t])).values()];
  mkdirSync(o.dataDir, { recursive: true });
  const results: DownloadResult[] = [];
  for (const t of specs) {
    log(`${t.dir}: downloading`);
    try {
      results.push(await downloadTask(t, o, log));
    } catch (e) {
      log(`${t.dir}: FAILED: ${(e as Error).message}`);
      results.push({ dir: t.dir, path: join(o.dataDir, t.dir), status: 'failed', error: (e as Error).message });
    }
  }
  return results;
}
