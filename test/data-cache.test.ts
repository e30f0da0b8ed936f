import test from 'ava';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeSplit, loadGlueSplit } from '../src/data/glue.js';
import { tokenizerFromVocabText } from '../src/data/tokenizer.js';
import { readSafetensors } from '../src/util/safetensors.js';

const VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'a', 'b', 'c', 'entailment'];
const tok = tokenizerFromVocabText(VOCAB.join('\n'));
const RTE = 'index\tsentence1\tsentence2\tlabel\n0\ta b c\tc\tentailment\n1\ta\tb b\tnot_entailment\n';
const dirs: string[] = [];
function setup(): { glueDir: string; cache: string } {
  const root = mkdtempSync(join(tmpdir(), 'kdqat-cache-'));
  dirs.push(root);
  mkdirSync(join(root, 'glue', 'RTE'), { recursive: true });
  writeFileSync(join(root, 'glue', 'RTE', 'dev.tsv'), RTE);
  return { glueDir: join(root, 'glue'), cache: join(root, 'cache') };
}
test.after.always(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test('second load hits the cache and returns identical features', (t) => {
  const { glueDir, cache } = setup();
  const a = loadGlueSplit({ task: 'rte', split: 'dev', glueDir, tokenizer: tok, maxSeqLen: 8, cache });
  t.is(a.cache?.hit, false);
  const b = loadGlueSplit({ task: 'rte', split: 'dev', glueDir, tokenizer: tok, maxSeqLen: 8, cache });
  t.is(b.cache?.hit, true);
  t.is(describeSplit(b), 'rte dev: 2 examples, T=8 (2 rows read, 0 rejected), cache hit');
  t.is(b.cache?.path, a.cache?.path);
  for (const k of ['inputIds', 'tokenTypeIds', 'attentionMask', 'seqLengths', 'labels'] as const)
    t.deepEqual(Array.from(b.features[k]), Array.from(a.features[k]), k);
  t.deepEqual([b.features.n, b.features.T], [2, 8]);
  t.deepEqual(b.stats, a.stats);
  t.deepEqual(Array.from(a.features.inputIds.subarray(0, 8)), [2, 5, 6, 7, 3, 7, 3, 0]);
  const st = readSafetensors(a.cache!.path);
  t.deepEqual(st.tensors.get('input_ids')!.shape, [2, 8]);
});

test('a changed max length, file content or tokenizer gives a different cache entry', (t) => {
  const { glueDir, cache } = setup();
  const base = loadGlueSplit({ task: 'rte', split: 'dev', glueDir, tokenizer: tok, maxSeqLen: 8, cache });
  const longer = loadGlueSplit({ task: 'rte', split: 'dev', glueDir, tokenizer: tok, maxSeqLen: 10, cache });
  t.is(longer.cache?.hit, false);
  t.not(longer.cache?.path, base.cache?.path);
  t.is(longer.features.T, 10);
  const tok2 = tokenizerFromVocabText([...VOCAB, 'extra'].join('\n'));
  t.is(loadGlueSplit({ task: 'rte', split: 'dev', glueDir, tokenizer: tok2, maxSeqLen: 8, cache }).cache?.hit, false);
  t.is(
    loadGlueSplit({ task: 'rte', split: 'dev', glueDir, tokenizer: tok, maxSeqLen: 8, cache, limit: 1 }).features.n,
    1,
  );
  writeFileSync(join(glueDir, 'RTE', 'dev.tsv'), RTE + '2\tc\tc\tentailment\n');
  const changed = loadGlueSplit({ task: 'rte', split: 'dev', glueDir, tokenizer: tok, maxSeqLen: 8, cache });
  t.is(changed.cache?.hit, false);
  t.is(changed.features.n, 3);
  t.is(readdirSync(cache).filter((f) => f.endsWith('.safetensors')).length, 5);
  t.is(readdirSync(cache).filter((f) => f.endsWith('.tmp')).length, 0);
});

test('a corrupt cache file is rebuilt; cache: false writes nothing', (t) => {
  const { glueDir, cache } = setup();
  const a = loadGlueSplit({ task: 'rte', split: 'dev', glueDir, tokenizer: tok, maxSeqLen: 8, cache });
  writeFileSync(a.cache!.path, 'garbage');
  const b = loadGlueSplit({ task: 'rte', split: 'dev', glueDir, tokenizer: tok, maxSeqLen: 8, cache });
  t.is(b.cache?.hit, false);
  t.deepEqual(Array.from(b.features.inputIds), Array.from(a.features.inputIds));
  t.is(loadGlueSplit({ task: 'rte', split: 'dev', glueDir, tokenizer: tok, maxSeqLen: 8, cache: false }).cache, null);
});
