/**
 * Table helpers over arquero 8: rows -> table, CSV / GitHub Markdown with fixed number precision, and group-by
 * summaries (mean, std, count, min, max over seeds) for "metric per coefficient with seed spread".
 *
 * Number formatting (CSV with `digits`, Markdown, HTML): a column whose numbers are all integers prints them as
 * integers; other numeric columns print with `digits` decimals (toFixed), or in exponent notation with 3 significant
 * digits when all of them would print with at most one significant digit (e.g. a learning rate 2e-5). null/undefined
 * print as ''. NaN as 'NaN'.
 */
import * as aq from 'arquero';
import type { ColumnTable } from 'arquero';

export type Row = Record<string, unknown>;
export type TableLike = ColumnTable | readonly Row[];
/** Decimals for non-integer numbers: one value for all columns, or per column with a `*` fallback. */
export type Digits = number | Record<string, number>;

export const DEFAULT_DIGITS = 4;

/** Rows (array of objects) -> arquero table. `columns` fixes the column set and order (default: first row's keys). */
export function fromRows(rows: readonly Row[], columns?: string[]): ColumnTable {
  if (!Array.isArray(rows)) throw new Error(`fromRows: expected an array of row objects, got ${typeof rows}`);
  rows.forEach((r, i) => {
    if (r === null || typeof r !== 'object' || Array.isArray(r)) throw new Error(`fromRows: row ${i} is not an object`);
  });
  if (columns) {
    for (const c of columns) {
      if (rows.length > 0 && !rows.some((r) => c in r))
        throw new Error(`fromRows: column "${c}" is in no row (row keys: ${Object.keys(rows[0]).join(', ')})`);
    }
    return aq.from(rows as Row[], columns);
  }
  return aq.from(rows as Row[]);
}

/** Accept an arquero table or rows; return an arquero table. */
export function asTable(t: TableLike): ColumnTable {
  return Array.isArray(t) ? fromRows(t as readonly Row[]) : (t as ColumnTable);
}

/** Accept an arquero table or rows; return rows (plain objects). */
export function asRows(t: TableLike): Row[] {
  return Array.isArray(t) ? [...(t as readonly Row[])] : ((t as ColumnTable).objects() as Row[]);
}

function digitsFor(d: Digits | undefined, col: string): number {
  if (d === undefined) return DEFAULT_DIGITS;
  if (typeof d === 'number') return d;
  return d[col] ?? d['*'] ?? DEFAULT_DIGITS;
}

/** For each column: a formatter (integer columns as integers, else toFixed(digits)) and whether it is numeric. */
export function columnFormats(
  t: ColumnTable,
  digits?: Digits,
): Record<string, { numeric: boolean; fmt: (v: unknown) => string }> {
  const out: Record<string, { numeric: boolean; fmt: (v: unknown) => string }> = {};
  for (const name of t.columnNames()) {
    const vals = t.array(name) as ArrayLike<unknown>;
    let numeric = false,
      allInt = true,
      other = false,
      maxAbs = 0;
    for (let i = 0; i < vals.length; i++) {
      const v = vals[i];
      if (v === null || v === undefined) continue;
      if (typeof v === 'number') {
        numeric = true;
        if (Number.isFinite(v) && !Number.isInteger(v)) allInt = false;
        if (Number.isFinite(v)) maxAbs = Math.max(maxAbs, Math.abs(v));
      } else other = true;
    }
    const d = digitsFor(digits, name);
    const isNum = numeric && !other;
    // a column of small numbers that `d` decimals would print with at most one significant digit (a learning rate:
    // 0.0000 or 0.0001): 3 significant digits in exponent notation
    const tiny = isNum && !allInt && maxAbs > 0 && maxAbs < 10 ** (1 - d);
    out[name] = {
      numeric: isNum,
      fmt: (v) =>
        tiny && typeof v === 'number' && Number.isFinite(v) && v !== 0
          ? Number(v.toPrecision(3)).toExponential()
          : formatCell(v, isNum && allInt ? 0 : d),
    };
  }
  return out;
}

/** One cell as text: numbers with `digits` decimals (integers only when digits = 0 and value is integral). */
export function formatCell(v: unknown, digits: number): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') {
    if (Number.isNaN(v)) return 'NaN';
    if (!Number.isFinite(v)) return v > 0 ? 'Infinity' : '-Infinity';
    if (digits === 0 && Number.isInteger(v)) return String(v);
    return v.toFixed(digits);
  }
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/**
 * CSV (RFC 4180 quoting, '\n' line ends, header row). Numbers print in full (round-trippable) unless `digits` is given.
 */
export function toCsv(t: TableLike, opts: { digits?: Digits; delimiter?: string } = {}): string {
  const tab = asTable(t);
  const formats = columnFormats(tab, opts.digits);
  const format: Record<string, (v: unknown) => unknown> = {};
  for (const [name, f] of Object.entries(formats)) {
    format[name] =
      opts.digits === undefined
        ? (v) => (v === undefined ? null : typeof v === 'number' && Number.isNaN(v) ? 'NaN' : v)
        : (v) => f.fmt(v);
  }
  return aq.toCSV(tab, { format, delimiter: opts.delimiter ?? ',' });
}

/** GitHub pipe table; numeric columns right-aligned, others left; numbers with `digits` decimals (default 4). */
export function toMarkdown(t: TableLike, opts: { digits?: Digits } = {}): string {
  const tab = asTable(t);
  const formats = columnFormats(tab, opts.digits);
  const format: Record<string, (v: unknown) => string> = {};
  const align: Record<string, 'l' | 'r'> = {};
  for (const [name, f] of Object.entries(formats)) {
    format[name] = (v) => f.fmt(v).replace(/\r?\n/g, ' ');
    align[name] = f.numeric ? 'r' : 'l';
  }
  return aq.toMarkdown(tab, { format, align });
}

export type Stat = 'mean' | 'std' | 'count' | 'min' | 'max' | 'median';
export const DEFAULT_STATS: Stat[] = ['mean', 'std', 'count'];

/**
 * Group-by summary: one row per distinct combination of `by`, columns `by...` then `<value>_<stat>` for each value
 * column and stat (std = sample standard deviation, n-1; undefined for a single value; count = non-null values).
 * Rows are ordered by the `by` keys.   e.g. summarize(runs, { by: ['arm', 'coef'], values: ['acc'] })
 */
export function summarize(t: TableLike, opts: { by: string[]; values: string[]; stats?: Stat[] }): ColumnTable {
  const tab = asTable(t);
  const names = tab.columnNames();
  for (const c of [...opts.by, ...opts.values]) {
    if (!names.includes(c)) throw new Error(`summarize: column "${c}" not in table (columns: ${names.join(', ')})`);
  }
  if (opts.values.length === 0) throw new Error('summarize: no value columns given');
  const stats = opts.stats ?? DEFAULT_STATS;
  const ops: Record<Stat, (c: string) => unknown> = {
    mean: (c) => aq.op.mean(c),
    std: (c) => aq.op.stdev(c),
    count: (c) => aq.op.valid(c),
    min: (c) => aq.op.min(c),
    max: (c) => aq.op.max(c),
    median: (c) => aq.op.median(c),
  };
  const roll: Record<string, unknown> = {};
  for (const v of opts.values) for (const s of stats) roll[`${v}_${s}`] = ops[s](v);
  const grouped = opts.by.length > 0 ? tab.groupby(...opts.by) : tab;
  const out = grouped.rollup(roll as Parameters<ColumnTable['rollup']>[0]);
  return opts.by.length > 0 ? out.orderby(...opts.by) : out;
}
