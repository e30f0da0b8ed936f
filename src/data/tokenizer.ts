/**
 * BERT tokenizer for GLUE features, on top of @huggingface/tokenizers 0.2.0 (pure JS).
 *
 * - A model directory with `tokenizer.json` (plus optional `tokenizer_config.json`) is loaded as is.
 * - Otherwise the reference `BertTokenizer(vocab.txt, do_lower_case=True)` (pytorch_pretrained_bert) is rebuilt:
 *   a tokenizer.json made in code (BertNormalizer: clean text, CJK spacing, lowercase, accents stripped = NFD minus
 *   Mn; BertPreTokenizer: whitespace + punctuation split, ASCII symbols count as punctuation; WordPiece with `##`
 *   continuation, words over 100 characters -> [UNK]) plus two corrections so that ids equal the reference's:
 *   CJK ideographs outside the BMP are spaced too (the library only checks UTF-16 units), and the reference's
 *   `never_split` is applied: a whitespace-delimited "[SEP]" (etc.) is one token, "a[SEP]b" is split as punctuation.
 *   Cross-checked against a Python port of the reference on all 127k distinct fields of the shared GLUE TSVs.
 *
 * The library has no truncation, padding or pair handling: `encode` returns the ids of each text without specials
 * and features.ts assembles `[CLS] a [SEP] b [SEP]`.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { DataError, pyStrip } from './tsv.js';

/** Bump when the way text becomes ids changes (part of the feature-cache key). */
export const TOKENIZER_IMPL_VERSION = 'hf-tokenizers-0.2.0/bert-v2';

export const SPECIAL_TOKENS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] as const;

export interface SpecialIds {
  cls: number;
  sep: number;
  pad: number;
  unk: number;
}

export interface GlueTokenizer {
  /** ids of `a` and of `b` (null when b is null/undefined), no special tokens, no truncation */
  encode(a: string, b?: string | null): { a: number[]; b: number[] | null };
  /** word pieces of one text (no specials), for tests and debugging */
  tokenize(text: string): string[];
  tokenToId(token: string): number | undefined;
  idToToken(id: number): string | undefined;
  readonly special: SpecialIds;
  readonly vocabSize: number;
  /** sha256 over the tokenizer's defining files and TOKENIZER_IMPL_VERSION */
  readonly fingerprint: string;
  /** file the tokenizer came from */
  readonly source: string;
}

/**
 * vocab.txt -> token -> id, as pytorch_pretrained_bert's load_vocab: one token per line, stripped; a later duplicate
 * wins.
 */
export function parseVocab(text: string, path = 'vocab.txt'): Map<string, number> {
  const lines = text.split(/\r\n|\r|\n/);
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  const vocab = new Map<string, number>();
  lines.forEach((l, i) => vocab.set(pyStrip(l), i));
  for (const t of ['[UNK]', '[CLS]', '[SEP]', '[PAD]']) {
    if (!vocab.has(t)) throw new DataError(`${path}: vocabulary lacks the special token ${t}`);
  }
  return vocab;
}

/** tokenizer.json object for an uncased BERT WordPiece vocabulary (specials are plain vocabulary entries). */
export function bertTokenizerJson(vocab: Map<string, number>): Record<string, unknown> {
  return {
    version: '1.0',
    added_tokens: [],
    normalizer: {
      type: 'BertNormalizer',
      clean_text: true,
      handle_chinese_chars: true,
      strip_accents: null,
      lowercase: true,
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: null,
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: '[UNK]',
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab: Object.fromEntries(vocab),
    },
  };
}

/** CJK ideograph blocks above U+FFFF that BERT's _is_chinese_char lists. */
const ASTRAL_CJK =
  /[\u{20000}-\u{2A6DF}\u{2A700}-\u{2B73F}\u{2B740}-\u{2B81F}\u{2B820}-\u{2CEAF}\u{2F800}-\u{2FA1F}]/gu;
/** Whitespace after BERT's clean_text (space, tab, CR, LF, Zs) plus what Python's str.split() adds (Zl, Zp). */
const WS = '[ \\t\\n\\r\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]';
const HAS_NEVER_SPLIT = new RegExp(`(?:^|${WS})\\[(?:UNK|SEP|PAD|CLS|MASK)\\](?=${WS}|$)`);
const WS_SPLIT = new RegExp(`(${WS}+)`);

/** Reference-exact ids: astral CJK spacing and never_split around the library's encoder `lib`. */
function referenceEncoder(lib: (t: string) => number[], vocab: Map<string, number>): (t: string) => number[] {
  const never = new Set<string>(SPECIAL_TOKENS.filter((t) => vocab.has(t)));
  return (text) => {
    const t = /[\ud800-\udbff]/.test(text) ? text.replace(ASTRAL_CJK, ' $& ') : text;
    if (!HAS_NEVER_SPLIT.test(t)) return lib(t);
    const out: number[] = [];
    let run = '';
    for (const w of t.split(WS_SPLIT)) {
      if (never.has(w)) {
        if (run) out.push(...lib(run));
        run = '';
        out.push(vocab.get(w)!);
      } else run += w;
    }
    if (run) out.push(...lib(run));
    return out;
  };
}

function sha256(...parts: (string | Buffer)[]): string {
  const h = createHash('sha256');
  for (const p of parts) {
    h.update(p);
    h.update('\0');
  }
  return h.digest('hex');
}

function wrap(tok: Tokenizer, source: string, fingerprint: string, vocab?: Map<string, number>): GlueTokenizer {
  const id = (t: string): number => {
    const v = tok.token_to_id(t);
    if (v === undefined) throw new DataError(`${source}: tokenizer has no ${t} token`);
    return v;
  };
  const special: SpecialIds = { cls: id('[CLS]'), sep: id('[SEP]'), pad: id('[PAD]'), unk: id('[UNK]') };
  const lib = (text: string): number[] => tok.encode(text, { add_special_tokens: false }).ids;
  const ids = vocab ? referenceEncoder(lib, vocab) : lib;
  return {
    encode: (a, b) => ({ a: ids(a), b: b === null || b === undefined ? null : ids(b) }),
    tokenize: (text) => ids(text).map((i) => tok.id_to_token(i) ?? '[UNK]'),
    tokenToId: (t) => tok.token_to_id(t),
    idToToken: (i) => tok.id_to_token(i),
    special,
    vocabSize: tok.get_vocab(true).size,
    fingerprint,
    source,
  };
}

/** Build the reference BERT tokenizer (lower case) from the text of a vocab.txt. */
export function tokenizerFromVocabText(text: string, source = 'vocab.txt'): GlueTokenizer {
  const vocab = parseVocab(text, source);
  const tok = new Tokenizer(bertTokenizerJson(vocab), { do_lower_case: true, clean_up_tokenization_spaces: true });
  return wrap(tok, source, sha256(TOKENIZER_IMPL_VERSION, 'vocab.txt', text), vocab);
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new DataError(
      `cannot read tokenizer file ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
}

/**
 * Load a tokenizer from a model directory (tokenizer.json preferred, else vocab.txt), or from a path to
 * `tokenizer.json` or a vocab file (`*.txt`).
 */
export function loadTokenizer(dirOrFile: string): GlueTokenizer {
  if (!existsSync(dirOrFile)) throw new DataError(`tokenizer path ${dirOrFile} does not exist`);
  let jsonPath: string | null = null;
  let vocabPath: string | null = null;
  if (statSync(dirOrFile).isDirectory()) {
    if (existsSync(join(dirOrFile, 'tokenizer.json'))) jsonPath = join(dirOrFile, 'tokenizer.json');
    else if (existsSync(join(dirOrFile, 'vocab.txt'))) vocabPath = join(dirOrFile, 'vocab.txt');
    else throw new DataError(`${dirOrFile}: neither tokenizer.json nor vocab.txt found`);
  } else if (dirOrFile.endsWith('.json')) jsonPath = dirOrFile;
  else vocabPath = dirOrFile;

  if (vocabPath) return tokenizerFromVocabText(readText(vocabPath), vocabPath);

  const jsonText = readText(jsonPath!);
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(jsonText);
  } catch (e) {
    throw new DataError(`${jsonPath}: not valid JSON (${(e as Error).message})`);
  }
  const cfgPath = join(dirname(jsonPath!), 'tokenizer_config.json');
  const cfgText = basename(jsonPath!) === 'tokenizer.json' && existsSync(cfgPath) ? readText(cfgPath) : '{}';
  let cfg: Record<string, unknown>;
  try {
    cfg = JSON.parse(cfgText);
  } catch (e) {
    throw new DataError(`${cfgPath}: not valid JSON (${(e as Error).message})`);
  }
  for (const k of ['model', 'normalizer', 'pre_tokenizer', 'post_processor', 'decoder'])
    if (!(k in json)) json[k] = null;
  if (!Array.isArray(json.added_tokens)) json.added_tokens = [];
  let tok: Tokenizer;
  try {
    tok = new Tokenizer(json, cfg);
  } catch (e) {
    throw new DataError(`${jsonPath}: cannot build a tokenizer (${(e as Error).message})`);
  }
  return wrap(tok, jsonPath!, sha256(TOKENIZER_IMPL_VERSION, 'tokenizer.json', jsonText, cfgText));
}
