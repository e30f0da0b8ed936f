/**
 * User errors (bad flags, missing or mismatched inputs, a run folder holding another configuration): the CLIs print
 * their message alone and exit 2. Anything else is an internal error: stack trace, exit 1. `closest` is the one
 * "did you mean" used for flags, config keys and names.
 */
export class UserError extends Error {
  constructor(msg: string) {
    super(msg);
    this.name = 'UserError';
  }
}

/** A run configuration that is not valid: an unknown key, a value of the wrong type or out of range (named). */
export class ConfigError extends Error {
  constructor(msg: string) {
    super(msg);
    this.name = 'ConfigError';
  }
}

/** Edit distance with adjacent transpositions (optimal string alignment: insert, delete, substitute, swap two
 * neighbours; 1 each): "--onyl" is one typo away from "--only", not two. */
export function editDistance(a: string, b: string): number {
  let prev2: number[] = [],
    prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) cur[j] = Math.min(cur[j], prev2[j - 2] + 1);
    }
    prev2 = prev;
    prev = cur;
  }
  return prev[b.length];
}

/**
 * The candidate closest to `word` (case-insensitive), if it is close enough to be a plausible misspelling or prefix.
 */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  let best: string | undefined,
    bestD = Infinity;
  for (const c of candidates) {
    const lc = c.toLowerCase();
    const d = lc.startsWith(w) && w.length >= 3 ? 0.5 : editDistance(w, lc);
    if (d < bestD) {
      best = c;
      bestD = d;
    }
  }
  return bestD <= (w.length >= 5 ? Math.max(2, Math.floor(w.length / 4)) : 1) ? best : undefined;
}

/** " (did you mean X?)" or "" */
export const didYouMean = (word: string, candidates: readonly string[], prefix = ''): string => {
  const c = closest(word, candidates);
  return c ? `; did you mean ${prefix}${c}?` : '';
};
