/**
 * What a run is: the part of it that changes results (data
 * limits, lengths, batch, epochs, steps, lr and the optimizer, seed, KD terms and loss balancer, quantizers, the
 * teacher's weights), and a hash of that part, recorded in the run folder's config.json. A folder holding a run with
 * another hash is never reused or resumed: refused with the differences named, or (--force-new) moved to .replaced/
 * first. Also: a model folder's task, label count and vocabulary, checked against the command's task.
 */
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { getTask } from '../data/tasks.js';
import { loadTokenizer } from '../data/tokenizer.js';
import { UserError } from '../util/errors.js';
import type { ResolvedConfig } from '../train/config.js';
import { kdCoeffs } from '../distill/config.js';
import { balancerTag } from '../distill/balancers.js';

/**
 * What a teacher records of its own fine-tuning: no KD or quantizer settings (they do not apply). A fine-tuning has
 * no teacher; its record names the BERT it started from (`bert`, a directory or preset) in the `teacher` key, where
 * every teacher folder has recorded it.
 */
export function finetuneRecord(cfg: ResolvedConfig, bert: string): Omit<ResolvedConfig, 'kd' | 'quant'> {
  const { kd: _kd, quant: _quant, ...rest } = cfg;
  return { ...rest, teacher: bert };
}

export interface RunIdentity {
  identity: Record<string, unknown>;
  hash: string;
}

/** JSON with object keys sorted (a stable text to hash). */
function stable(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stable).join(',')}]`;
  if (v && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stable((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v ?? null);
}

/**
 * The result-changing part of a run's configuration and its hash. `source` identifies the starting weights: the
 * teacher's content hash (qat), or the BERT preset/directory and vocabulary (finetune). Paths, the GLUE location and
 * the checkpoint interval are left out: they do not change results.
 */
export function runIdentity(e: ResolvedConfig, mode: 'qat' | 'finetune', source: string): RunIdentity {
  const { glueDir: _g, ...data } = e.data;
  const { checkpointEvery: _c, ...train } = e.train;
  const identity: Record<string, unknown> = { mode, task: e.task, seed: e.seed, source, data, train };
  // a non-default loss balancer changes results; the static default adds nothing (hashes of earlier runs stay valid)
  const balancer = balancerTag(e.kd.balancer) ? { balancer: e.kd.balancer } : {};
  if (mode === 'qat')
    Object.assign(identity, {
      kd: {
        preset: e.kd.preset,
        coeffs: kdCoeffs(e.kd),
        gtRegressionUsesLabels: e.kd.gtRegressionUsesLabels,
        ...balancer,
      },
      quant: e.quant,
    });
  return { identity, hash: createHash('sha256').update(stable(identity)).digest('hex').slice(0, 16) };
}

/** sha256 of files' contents (streamed), in order; a missing file counts as empty. */
export function filesSha256(files: string[]): string {
  const h = createHash('sha256');
  const buf = Buffer.alloc(1 << 24);
  for (const f of files) {
    h.update(`\0${basename(f)}\0`);
    if (!existsSync(f)) continue;
    const fd = openSync(f, 'r');
    try {
      for (let n: number; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) h.update(buf.subarray(0, n));
    } finally {
      closeSync(fd);
    }
  }
  return h.digest('hex');
}

const TOKENIZER_FILES = ['tokenizer.json', 'vocab.txt'];

const shaCache = new Map<string, string>();

/** A teacher's identity: the hash of its weights and tokenizer (a teacher fine-tuned again is another teacher). */
export function teacherSha256(dir: string): string {
  const files = [join(dir, 'model.safetensors'), ...TOKENIZER_FILES.map((f) => join(dir, f))];
  const key = files.map((f) => (existsSync(f) ? `${f}:${statSync(f).mtimeMs}:${statSync(f).size}` : f)).join('|');
  if (!shaCache.has(key)) shaCache.set(key, `sha256:${filesSha256(files).slice(0, 16)}`);
  return shaCache.get(key)!;
}

export interface ModelInfo {
  dir: string;
  task: string | null;
  kind: string | null;
  numLabels: number;
  vocabSize: number;
  tokenizerSize: number | null;
}

/** A model folder's task (kdqat.json), label count and vocabulary size (config.json), and its tokenizer's size. */
export function readModelInfo(dir: string): ModelInfo {
  const cfgPath = join(dir, 'config.json');
  if (!existsSync(join(dir, 'model.safetensors')) || !existsSync(cfgPath))
    throw new UserError(`${dir} is not a model folder (no model.safetensors and config.json)`);
  const c = JSON.parse(readFileSync(cfgPath, 'utf8')) as { num_labels?: number; id2label?: object; vocab_size: number };
  const prov = existsSync(join(dir, 'kdqat.json'))
    ? (JSON.parse(readFileSync(join(dir, 'kdqat.json'), 'utf8')) as { task?: string; kind?: string })
    : {};
  const tokFile = TOKENIZER_FILES.map((f) => join(dir, f)).find(existsSync);
  return {
    dir,
    task: prov.task ? getTask(prov.task).name : null,
    kind: prov.kind ?? null,
    numLabels: c.num_labels ?? (c.id2label ? Object.keys(c.id2label).length : 2),
    vocabSize: c.vocab_size,
    tokenizerSize: tokFile ? loadTokenizer(tokFile).vocabSize : null,
  };
}

/**
 * A model folder fit for `task`: the task it was trained on (when recorded), its label count and a tokenizer whose
 * ids fit its embedding table; a mismatch is an error naming both sides. `like` (a teacher) adds: same vocabulary.
 */
export function checkModelForTask(m: ModelInfo, taskName: string, role: string, like?: ModelInfo): void {
  const task = getTask(taskName);
  if (m.task && m.task !== task.name)
    throw new UserError(`the ${role} ${m.dir} was trained on ${m.task}, but the task of this command is ${task.name}`);
  if (m.numLabels !== task.numLabels)
    throw new UserError(
      `the ${role} ${m.dir} has ${m.numLabels} output label(s), but ${task.name} needs ${task.numLabels}`,
    );
  if (m.tokenizerSize !== null && m.tokenizerSize > m.vocabSize)
    throw new UserError(
      `the ${role} ${m.dir}: its tokenizer has ${m.tokenizerSize} pieces but its embedding only ${m.vocabSize} rows ` +
        `(a vocabulary of another model)`,
    );
  if (like && m.vocabSize !== like.vocabSize)
    throw new UserError(
      `the ${role} ${m.dir} has a vocabulary of ${m.vocabSize} pieces, the teacher ${like.dir} one of ` +
        `${like.vocabSize}: not the same model family`,
    );
}

function flatten(o: unknown, prefix = '', out: Record<string, string> = {}): Record<string, string> {
  if (o && typeof o === 'object' && !Array.isArray(o))
    for (const [k, v] of Object.entries(o)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  else out[prefix] = JSON.stringify(o ?? null);
  return out;
}

/** "key: A (existing) -> B (this command)" for each differing leaf. */
export function identityDiff(existing: Record<string, unknown>, wanted: Record<string, unknown>): string[] {
  const a = flatten(existing),
    b = flatten(wanted);
  return [...new Set([...Object.keys(a), ...Object.keys(b)])]
    .filter((k) => a[k] !== b[k])
    .map((k) => `${k}: ${a[k] ?? 'absent'} (existing) vs ${b[k] ?? 'absent'} (this command)`);
}

/**
 * Whether `dir` holds a run's results: a metrics.json that parses (as an object). A damaged one (a garbled or
 * truncated file) is said, naming it, and moved to metrics.json.damaged: the run counts as unfinished and is run again.
 */
function finishedMetrics(dir: string, log: (s: string) => void): boolean {
  const path = join(dir, 'metrics.json');
  if (!existsSync(path)) return false;
  try {
    const m = JSON.parse(readFileSync(path, 'utf8'));
    if (m && typeof m === 'object' && !Array.isArray(m)) return true;
    throw new Error('not a JSON object');
  } catch (e) {
    renameSync(path, `${path}.damaged`);
    log(
      `${path} is damaged (${(e as Error).message.split('\n')[0]}): moved to metrics.json.damaged; the run is not ` +
        `finished and runs again`,
    );
    return false;
  }
}

export type RunDirState = 'new' | 'unfinished' | 'finished';

/**
 * What `dir` holds for a run of identity `want`: nothing yet, the same run unfinished (resume) or finished (reuse).
 * A run of another identity (or one recorded before identities were) is refused with the differences named; with
 * `forceNew` it is moved to <parent>/.replaced/<name>-<time>/ and the folder counts as new.
 */
export function checkRunDir(
  dir: string,
  want: RunIdentity,
  forceNew = false,
  log: (s: string) => void = (s) => console.error(s),
): RunDirState {
  const cfgPath = join(dir, 'config.json');
  const finished = finishedMetrics(dir, log);
  if (!existsSync(cfgPath) && !finished) return 'new';
  const prev = existsSync(cfgPath)
    ? (JSON.parse(readFileSync(cfgPath, 'utf8')) as { configHash?: string; identity?: Record<string, unknown> })
    : {};
  if (prev.configHash === want.hash) return finished ? 'finished' : 'unfinished';
  const diffs = prev.identity
    ? identityDiff(prev.identity, want.identity)
    : ['it was recorded without a configuration hash (made before run identities, or incomplete)'];
  const what = `${dir} holds ${finished ? 'a finished' : 'an unfinished'} run of another configuration`;
  if (!forceNew) {
    throw new UserError(
      `${what}, which is neither reused nor resumed. Differences: ${diffs.join('; ')}. ` +
        'Give this run another folder (--run-dir, or --out for a sweep), or pass --force-new to move the old run to ' +
        '.replaced/ and start anew',
    );
  }
  const to = join(dirname(dir), '.replaced', `${basename(dir)}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  mkdirSync(dirname(to), { recursive: true });
  renameSync(dir, to);
  log(`${what} (${diffs.join('; ')}): moved to ${to} (--force-new)`);
  // the sweep's report beside it showed the moved run: gone until the sweep writes it anew from the runs there
  const report = join(dirname(dir), 'report');
  if (finished && existsSync(report)) {
    rmSync(report, { recursive: true, force: true });
    log(`${report} showed the moved run: removed (the sweep writes it anew at its end; npm run report does it now)`);
  }
  return 'new';
}
