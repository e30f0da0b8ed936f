/**
 * The verification report: every fixture check is one line (fixture, key, error, tolerance, ok). Keys that no
 * check claims are listed as "not checked yet", never silently passed.
 */
export type Mode = 'rel' | 'abs' | 'exact';

export interface CheckLine {
  fixture: string;
  key: string;
  error: number;
  tol: number;
  mode: Mode;
  ok: boolean;
  note?: string;
}

/**
 * Relative Frobenius error ||a - r|| / ||r||; when ||r|| = 0 it is ||a||, an absolute error, as the fixture format
 * defines it.
 */
export function relFrobenius(a: ArrayLike<number>, r: ArrayLike<number>): number {
  if (a.length !== r.length) return Infinity;
  let num = 0,
    den = 0;
  for (let i = 0; i < r.length; i++) {
    const d = a[i] - r[i];
    num += d * d;
    den += r[i] * r[i];
  }
  if (!Number.isFinite(num)) return Infinity;
  return den === 0 ? Math.sqrt(num) : Math.sqrt(num / den);
}

export function maxAbs(a: ArrayLike<number>, r: ArrayLike<number>): number {
  if (a.length !== r.length) return Infinity;
  let m = 0;
  for (let i = 0; i < r.length; i++) {
    const d = Math.abs(a[i] - r[i]);
    if (!(d <= m)) m = d;
  }
  return m;
}

export function countMismatches(a: ArrayLike<number>, r: ArrayLike<number>): number {
  if (a.length !== r.length) return Infinity;
  let n = 0;
  for (let i = 0; i < r.length; i++) if (a[i] !== r[i]) n++;
  return n;
}

export class Report {
  readonly lines: CheckLine[] = [];
  readonly notChecked: { fixture: string; key: string; why: string }[] = [];
  constructor(private readonly print: (s: string) => void = (s) => console.log(s)) {}

  /**
   * Record one comparison. rel: relative Frobenius; abs: max absolute difference; exact: number of differing entries.
   */
  compare(
    fixture: string,
    key: string,
    actual: ArrayLike<number>,
    ref: ArrayLike<number>,
    tol: number,
    mode: Mode = 'rel',
    shapes?: [number[], number[]],
  ): CheckLine {
    let note: string | undefined;
    if (shapes && shapes[0].join('x') !== shapes[1].join('x'))
      note = `shape ${shapes[0].join('x')} != reference ${shapes[1].join('x')}`;
    else if (actual.length !== ref.length) note = `length ${actual.length} != reference ${ref.length}`;
    const error = note
      ? Infinity
      : mode === 'rel'
        ? relFrobenius(actual, ref)
        : mode === 'abs'
          ? maxAbs(actual, ref)
          : countMismatches(actual, ref);
    return this.add({ fixture, key, error, tol, mode, ok: error <= tol, note });
  }

  /** Record a check computed elsewhere (error already known). */
  add(line: CheckLine): CheckLine {
    this.lines.push(line);
    const err = line.mode === 'exact' ? `${line.error} mismatches` : line.error.toExponential(2);
    this.print(
      `${line.ok ? 'ok  ' : 'FAIL'} ${line.fixture} ${line.key} error=${err} tol=${line.tol} (${line.mode})` +
        `${line.note ? ` ${line.note}` : ''}`,
    );
    return line;
  }

  /** A check that could not run (missing input, exception): counts as failed. */
  fail(fixture: string, key: string, why: string): void {
    this.add({ fixture, key, error: Infinity, tol: 0, mode: 'abs', ok: false, note: why });
  }

  skip(fixture: string, key: string, why: string): void {
    this.notChecked.push({ fixture, key, why });
    this.print(`not checked yet ${fixture} ${key}: ${why}`);
  }

  get passed(): number {
    return this.lines.filter((l) => l.ok).length;
  }
  get failed(): number {
    return this.lines.filter((l) => !l.ok).length;
  }

  summary(): string {
    const nc = this.notChecked.length ? `, ${this.notChecked.length} not checked yet` : '';
    return `${this.passed} passed, ${this.failed} failed${nc}`;
  }
}
