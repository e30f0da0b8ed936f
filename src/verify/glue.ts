/**
 * Check the GLUE data layer against `<fixtureDir>/glue/`:
 * - every `<TASK>.<split>.safetensors` (found by listing): rebuild the features from GLUE_DIR with the fixture's
 *   vocab.txt and max_seq_length and compare input_ids, token_type_ids, attention_mask, seq_lengths, labels
 *   exactly (test split: inputs only), plus the label list in the metadata;
 * - every `glue-features.<split>.json` summary: example counts, label lists and default max_seq_length per task.
 * Keys this code does not know are reported as not checked yet.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadGlueSplit, type GlueSplit } from '../data/glue.js';
import { getTask, readExamples, type Split, type TaskSpec } from '../data/tasks.js';
import { loadTokenizer, type GlueTokenizer } from '../data/tokenizer.js';
import { readSafetensors, type RawTensor } from '../util/safetensors.js';
import type { Report } from './report.js';

const FEATURE_KEYS = {
  input_ids: 'inputIds',
  token_type_ids: 'tokenTypeIds',
  attention_mask: 'attentionMask',
  seq_lengths: 'seqLengths',
  labels: 'labels',
} as const;
const INPUT_KEYS = new Set(['input_ids', 'token_type_ids', 'attention_mask', 'seq_lengths']);
const META_KEYS = new Set(['task', 'split', 'max_seq_length', 'labels']);

/** Fixture (task, split) -> our task and split; MNLI's dev_matched / dev_mismatched become mnli / mnli-mm dev. */
function resolveTaskSplit(taskName: string, split: string): { task: TaskSpec; split: Split } {
  const m = /^(dev|test)_(matched|mismatched)$/.exec(split);
  if (m) return { task: getTask(m[2] === 'mismatched' ? 'mnli-mm' : 'mnli'), split: m[1] as Split };
  if (split !== 'train' && split !== 'dev' && split !== 'test') throw new Error(`unknown split "${split}"`);
  return { task: getTask(taskName), split };
}

function sameList(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Exact comparison with the first differing example (and its TSV line) in the note. */
function compareExact(
  report: Report,
  fixture: string,
  key: string,
  actual: ArrayLike<number>,
  ref: RawTensor,
  shape: number[],
  lines: number[] | null,
): void {
  if (shape.join('x') !== ref.shape.join('x')) {
    report.add({
      fixture,
      key,
      error: Infinity,
      tol: 0,
      mode: 'exact',
      ok: false,
      note: `shape ${shape.join('x')} != reference ${ref.shape.join('x')}`,
    });
    return;
  }
  let bad = 0,
    first = -1;
  for (let i = 0; i < ref.data.length; i++)
    if (actual[i] !== ref.data[i]) {
      bad++;
      if (first < 0) first = i;
    }
  const row = first < 0 ? -1 : Math.floor(first / (shape.length > 1 ? shape[1] : 1));
  const note = bad ? `first difference in example ${row}${lines ? ` (TSV line ${lines[row]})` : ''}` : undefined;
  report.add({ fixture, key, error: bad, tol: 0, mode: 'exact', ok: bad === 0, note });
}

export async function verifyGlue(fixtureDir: string, report: Report, opts: { glueDir: string }): Promise<void> {
  const dir = join(fixtureDir, 'glue');
  if (!existsSync(dir)) return;
  const files = readdirSync(dir).sort();
  let tok: GlueTokenizer | null = null;
  const vocab = join(dir, 'vocab.txt');
  const getTok = (): GlueTokenizer => (tok ??= loadTokenizer(vocab));

  for (const file of files.filter((f) => f.endsWith('.safetensors'))) {
    const fixture = `glue/${file.replace(/\.safetensors$/, '')}`;
    try {
      const st = readSafetensors(join(dir, file));
      const meta = st.metadata;
      for (const k of Object.keys(meta))
        if (!META_KEYS.has(k)) report.skip(fixture, `metadata.${k}`, 'unknown metadata key');
      if (!meta.task || !meta.split || !meta.max_seq_length) {
        report.fail(fixture, 'metadata', 'metadata lacks task, split or max_seq_length');
        continue;
      }
      let ts: { task: TaskSpec; split: Split };
      try {
        ts = resolveTaskSplit(meta.task, meta.split);
      } catch (e) {
        report.skip(fixture, '(all)', `task "${meta.task}" / split "${meta.split}" not known: ${(e as Error).message}`);
        continue;
      }
      const T = Number(meta.max_seq_length);
      let g: GlueSplit;
      try {
        g = loadGlueSplit({
          task: ts.task,
          split: ts.split,
          glueDir: opts.glueDir,
          tokenizer: getTok(),
          maxSeqLen: T,
          cache: false,
        });
      } catch (e) {
        report.fail(
          fixture,
          '(features)',
          `cannot build features from GLUE_DIR=${opts.glueDir}: ${(e as Error).message}`,
        );
        continue;
      }
      if ('labels' in meta) {
        let ref: unknown;
        try {
          ref = JSON.parse(meta.labels);
        } catch {
          ref = meta.labels;
        }
        const ours = ts.task.labels ?? [null];
        const ok = sameList(ours, ref);
        report.add({
          fixture,
          key: 'metadata.labels',
          error: ok ? 0 : 1,
          tol: 0,
          mode: 'exact',
          ok,
          note: ok ? undefined : `ours ${JSON.stringify(ours)} != reference ${JSON.stringify(ref)}`,
        });
      }
      const lines = rowLines(ts, opts.glueDir, g.features.n);
      const F = g.features;
      for (const [key, ref] of st.tensors) {
        if (!(key in FEATURE_KEYS)) {
          report.skip(fixture, key, 'unknown tensor key');
          continue;
        }
        if (ts.split === 'test' && !INPUT_KEYS.has(key)) {
          report.skip(fixture, key, 'test split: the reference labels every row 0, inputs only are compared');
          continue;
        }
        const shape = INPUT_KEYS.has(key) && key !== 'seq_lengths' ? [F.n, F.T] : [F.n];
        compareExact(report, fixture, key, F[FEATURE_KEYS[key as keyof typeof FEATURE_KEYS]], ref, shape, lines);
      }
    } catch (e) {
      report.fail(fixture, '(file)', (e as Error).message);
    }
  }

  for (const file of files.filter((f) => /^glue-features\..+\.json$/.test(f)))
    verifySummary(join(dir, file), file, report, opts.glueDir);
}

/** TSV line of each example (for mismatch notes). */
function rowLines(ts: { task: TaskSpec; split: Split }, glueDir: string, n: number): number[] | null {
  try {
    return readExamples({ task: ts.task, split: ts.split, glueDir, limit: n }).examples.map((e) => e.line);
  } catch {
    return null;
  }
}

/** glue-features.<split>.json: {TASK: {examples, max_seq_length, labels}} */
function verifySummary(path: string, file: string, report: Report, glueDir: string): void {
  const fixture = `glue/${file.replace(/\.json$/, '')}`;
  const splitName = file.replace(/^glue-features\./, '').replace(/\.json$/, '');
  let doc: Record<string, Record<string, unknown>>;
  try {
    doc = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    report.fail(fixture, '(file)', `cannot parse ${path}: ${(e as Error).message}`);
    return;
  }
  for (const [taskName, entry] of Object.entries(doc)) {
    let ts: { task: TaskSpec; split: Split };
    try {
      ts = resolveTaskSplit(taskName, splitName);
    } catch (e) {
      report.skip(fixture, taskName, (e as Error).message);
      continue;
    }
    for (const [k, v] of Object.entries(entry)) {
      const key = `${taskName}.${k}`;
      if (k === 'labels') {
        const ours = ts.task.labels ?? [null];
        const ok = sameList(ours, v);
        report.add({
          fixture,
          key,
          error: ok ? 0 : 1,
          tol: 0,
          mode: 'exact',
          ok,
          note: ok ? undefined : `ours ${JSON.stringify(ours)}`,
        });
      } else if (k === 'max_seq_length') {
        report.compare(fixture, `${key} (task default)`, [ts.task.maxSeqLen], [Number(v)], 0, 'exact');
      } else if (k === 'examples') {
        try {
          const n = readExamples({ task: ts.task, split: ts.split, glueDir }).examples.length;
          report.compare(fixture, key, [n], [Number(v)], 0, 'exact');
        } catch (e) {
          report.fail(fixture, key, `cannot read GLUE_DIR=${glueDir}: ${(e as Error).message}`);
        }
      } else report.skip(fixture, key, 'unknown summary field');
    }
  }
}
