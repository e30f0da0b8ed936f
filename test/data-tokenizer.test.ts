import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildFeatures, truncatePair } from '../src/data/features.js';
import { PROJECT_ROOT, type Example } from '../src/data/tasks.js';
import { loadTokenizer, tokenizerFromVocabText } from '../src/data/tokenizer.js';
import { DataError } from '../src/data/tsv.js';

const FIXTURES = resolve(process.env.KDQAT_FIXTURES ?? join(PROJECT_ROOT, '..', 'shared', 'fixtures'));
/** the bert-base-uncased vocab the glue fixtures were made with */
const bert = loadTokenizer(join(FIXTURES, 'glue', 'vocab.txt'));

/** tiny vocab: ids are line numbers */
const TINY = [
  '[PAD]',
  '[UNK]',
  '[CLS]',
  '[SEP]',
  '[MASK]',
  'un',
  '##aff',
  '##able',
  'a',
  '##a',
  'b',
  'c',
  'd',
  'e',
  ',',
  'x',
];
const tiny = tokenizerFromVocabText(TINY.join('\n') + '\n', 'tiny-vocab.txt');

// Expected pieces below come from a Python port of the reference pytorch_pretrained_bert BertTokenizer.
test('accents are stripped after lowercasing', (t) => {
  t.deepEqual(bert.tokenize('Héllo Wörld, CAFÉ naïve'), ['hello', 'world', ',', 'cafe', 'naive']);
  t.deepEqual(bert.tokenize('İstanbul ΣΑΣ ß'), ['istanbul', 'σ', '##α', '##ς', 'ß']);
});

test('punctuation and ASCII symbols split into single tokens', (t) => {
  t.deepEqual(bert.tokenize("don't $5+3=8 a.b"), ['don', "'", 't', '$', '5', '+', '3', '=', '8', 'a', '.', 'b']);
});

test('CJK ideographs are split per character, also outside the BMP', (t) => {
  t.deepEqual(bert.tokenize('我爱你abc中文𠀀x'), ['我', '[UNK]', '[UNK]', 'abc', '中', '文', '[UNK]', 'x']);
});

test('control / zero-width characters removed, odd whitespace splits', (t) => {
  t.deepEqual(bert.tokenize('tab\there\u200bzero\u00a0x'), ['tab', 'here', '##zer', '##o', 'x']);
});

test('never_split: a whitespace-delimited [SEP] is one token, an embedded one is punctuation', (t) => {
  t.deepEqual(bert.tokenize('a [SEP] b a[SEP]b [sep]'), [
    'a',
    '[SEP]',
    'b',
    'a',
    '[',
    'sep',
    ']',
    'b',
    '[',
    'sep',
    ']',
  ]);
});

test('WordPiece: greedy longest match with ## continuation, [UNK] for undecomposable words', (t) => {
  t.deepEqual(tiny.tokenize('unaffable'), ['un', '##aff', '##able']);
  t.deepEqual(tiny.encode('UnAffable, zz').a, [5, 6, 7, 14, 1]);
  t.deepEqual(bert.tokenize('unaffable'), ['una', '##ffa', '##ble']);
});

test('a word longer than 100 characters is [UNK]; 100 characters is still split', (t) => {
  t.deepEqual(tiny.encode('a'.repeat(101)).a, [1]);
  const hundred = tiny.encode('a'.repeat(100)).a;
  t.is(hundred.length, 100);
  t.deepEqual([hundred[0], hundred[1], hundred[99]], [8, 9, 9]);
});

test('special ids and fingerprints', (t) => {
  t.deepEqual(bert.special, { cls: 101, sep: 102, pad: 0, unk: 100 });
  t.deepEqual(tiny.special, { cls: 2, sep: 3, pad: 0, unk: 1 });
  t.not(tiny.fingerprint, bert.fingerprint);
  t.is(tiny.fingerprint, tokenizerFromVocabText(TINY.join('\n') + '\n').fingerprint);
  t.throws(() => tokenizerFromVocabText('a\nb\n', 'bad.txt'), {
    instanceOf: DataError,
    message: /bad\.txt: vocabulary lacks the special token \[UNK\]/,
  });
});

test('loadTokenizer: directory with vocab.txt, directory with tokenizer.json, missing', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kdqat-tok-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'vocab.txt'), TINY.join('\n'));
  t.deepEqual(loadTokenizer(dir).encode('a, b', 'unaffable'), { a: [8, 14, 10], b: [5, 6, 7] });
  const json = {
    version: '1.0',
    added_tokens: [],
    normalizer: { type: 'BertNormalizer', lowercase: true, clean_text: true, handle_chinese_chars: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: null,
    decoder: null,
    model: {
      type: 'WordPiece',
      unk_token: '[UNK]',
      continuing_subword_prefix: '##',
      vocab: Object.fromEntries(TINY.map((w, i) => [w, i])),
    },
  };
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(json));
  const fromJson = loadTokenizer(dir);
  t.true(fromJson.source.endsWith('tokenizer.json'));
  t.deepEqual(fromJson.encode('A, B').a, [8, 14, 10]);
  t.throws(() => loadTokenizer(join(dir, 'nope')), { instanceOf: DataError, message: /does not exist/ });
});

test('longest-first pair truncation (ties shorten b)', (t) => {
  const a = [1, 2, 3, 4, 5],
    b = [6, 7];
  truncatePair(a, b, 5);
  t.deepEqual(
    [a, b],
    [
      [1, 2, 3],
      [6, 7],
    ],
  );
  const c = [1, 2, 3],
    d = [4, 5, 6];
  truncatePair(c, d, 4);
  t.deepEqual(
    [c, d],
    [
      [1, 2],
      [4, 5],
    ],
  );
});

const ex = (textA: string, textB: string | null, label = 1): Example => ({ textA, textB, label, line: 0 });

test('features: [CLS] a [SEP] b [SEP], pair truncation to T-3, padding, segments, lengths', (t) => {
  // a = 5 pieces, b = 2 pieces, T = 8 -> a cut to 3
  const f = buildFeatures([ex('a b c d e', 'x x'), ex('a b c d e f g h', null, 0)], tiny, 8, 'classification');
  t.is(f.n, 2);
  t.is(f.T, 8);
  t.deepEqual(Array.from(f.inputIds.subarray(0, 8)), [2, 8, 10, 11, 3, 15, 15, 3]);
  t.deepEqual(Array.from(f.tokenTypeIds.subarray(0, 8)), [0, 0, 0, 0, 0, 1, 1, 1]);
  t.deepEqual(Array.from(f.attentionMask.subarray(0, 8)), [1, 1, 1, 1, 1, 1, 1, 1]);
  // single sentence: cut to T-2
  t.deepEqual(Array.from(f.inputIds.subarray(8, 16)), [2, 8, 10, 11, 12, 13, 1, 3]);
  t.deepEqual(Array.from(f.seqLengths), [8, 8]);
  t.true(f.labels instanceof Int32Array);
  t.deepEqual(Array.from(f.labels), [1, 0]);
});

test('features: padding with 0, empty text_b is a single sentence, empty-token b adds no [SEP]', (t) => {
  const f = buildFeatures([ex('a', ''), ex('a', '\u200b'), ex('a', 'b')], tiny, 6, 'regression');
  t.deepEqual(Array.from(f.inputIds), [2, 8, 3, 0, 0, 0, /**/ 2, 8, 3, 0, 0, 0, /**/ 2, 8, 3, 10, 3, 0]);
  t.deepEqual(Array.from(f.tokenTypeIds), [0, 0, 0, 0, 0, 0, /**/ 0, 0, 0, 0, 0, 0, /**/ 0, 0, 0, 1, 1, 0]);
  t.deepEqual(Array.from(f.attentionMask), [1, 1, 1, 0, 0, 0, /**/ 1, 1, 1, 0, 0, 0, /**/ 1, 1, 1, 1, 1, 0]);
  t.deepEqual(Array.from(f.seqLengths), [3, 3, 5]);
  t.true(f.labels instanceof Float32Array);
  t.throws(() => buildFeatures([ex('a', null)], tiny, 2, 'classification'), {
    instanceOf: DataError,
    message: /max_seq_length/,
  });
});
