/**
 * A deterministic WordPiece vocabulary for teachers trained from scratch (no pretrained vocab.txt offline).
 * Words are pre-tokenised with BERT's basic rules (NFD + accent stripping, lower case, punctuation and CJK
 * characters split off); the vocabulary is: the five specials, every character seen (as itself and as "##c"),
 * then whole words and frequent word-final pieces ("##ing", "##s", ...) by descending count (ties by code point
 * order) up to `size`. WordPiece's greedy longest-match then never needs [UNK] for characters seen in training.
 * Simpler than a likelihood-based trainer, but fully deterministic and dependency-free.
 */
export const SPECIALS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];

const isPunct = (cp: number): boolean =>
  (cp >= 33 && cp <= 47) ||
  (cp >= 58 && cp <= 64) ||
  (cp >= 91 && cp <= 96) ||
  (cp >= 123 && cp <= 126) ||
  /\p{P}/u.test(String.fromCodePoint(cp));
const isCjk = (cp: number): boolean =>
  (cp >= 0x4e00 && cp <= 0x9fff) ||
  (cp >= 0x3400 && cp <= 0x4dbf) ||
  (cp >= 0x20000 && cp <= 0x2a6df) ||
  (cp >= 0x2a700 && cp <= 0x2b73f) ||
  (cp >= 0x2b740 && cp <= 0x2b81f) ||
  (cp >= 0x2b820 && cp <= 0x2ceaf) ||
  (cp >= 0xf900 && cp <= 0xfaff) ||
  (cp >= 0x2f800 && cp <= 0x2fa1f);

/** BERT BasicTokenizer (uncased): the words WordPiece sees. */
export function basicTokens(text: string): string[] {
  const s = text
    .normalize('NFD')
    .replace(/\p{Mn}/gu, '')
    .toLowerCase();
  const out: string[] = [];
  let cur = '';
  const flush = () => {
    if (cur) {
      out.push(cur);
      cur = '';
    }
  };
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (cp === 0 || cp === 0xfffd || (/\p{Cc}/u.test(ch) && !/\s/.test(ch))) continue;
    if (/\s/u.test(ch)) flush();
    else if (isPunct(cp) || isCjk(cp)) {
      flush();
      out.push(ch);
    } else cur += ch;
  }
  flush();
  return out;
}

export function buildWordPieceVocab(texts: Iterable<string>, size = 8000, suffixLens = [1, 2, 3, 4]): string[] {
  const words = new Map<string, number>();
  for (const t of texts) for (const w of basicTokens(t)) words.set(w, (words.get(w) ?? 0) + 1);
  const chars = new Set<string>();
  const suffixes = new Map<string, number>();
  for (const [w, n] of words) {
    const cs = [...w];
    for (const c of cs) chars.add(c);
    for (const k of suffixLens)
      if (cs.length > k + 1) {
        const s = '##' + cs.slice(-k).join('');
        suffixes.set(s, (suffixes.get(s) ?? 0) + n);
      }
  }
  const byCount = (a: [string, number], b: [string, number]) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
  const charList = [...chars].sort();
  const vocab = [...SPECIALS, ...charList, ...charList.map((c) => '##' + c)];
  const seen = new Set(vocab);
  const cands = [...[...words].filter(([, n]) => n >= 2), ...[...suffixes].filter(([, n]) => n >= 5)].sort(byCount);
  for (const [w] of cands) {
    if (vocab.length >= size) break;
    if (!seen.has(w) && [...w].length <= 100) {
      vocab.push(w);
      seen.add(w);
    }
  }
  return vocab;
}
