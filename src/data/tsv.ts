/**
 * TSV reading exactly as the reference's `csv.reader(f, delimiter="\t", quotechar=None)` on a file opened in text
 * mode: universal newlines (\r\n, \r, \n end a line), tab-separated fields, no quoting (a `"` is literal), a blank
 * line is a row with no fields, a UTF-8 byte-order mark stays in the first field (encoding "utf-8", not "utf-8-sig").
 */
import { readFileSync } from 'node:fs';

/** Bad or missing input data. `file` and `line` (1-based) are set when the problem has a place. */
export class DataError extends Error {
  constructor(
    message: string,
    readonly file?: string,
    readonly line?: number,
  ) {
    super(file ? `${file}${line !== undefined ? `:${line}` : ''}: ${message}` : message);
    this.name = 'DataError';
  }
}

/** Python str.strip() whitespace (JS trim() also strips U+FEFF, which Python keeps). */
const PY_WS = '[\\t\\n\\x0b\\x0c\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]';
const PY_STRIP = new RegExp(`^${PY_WS}+|${PY_WS}+$`, 'g');
export const pyStrip = (s: string): string => s.replace(PY_STRIP, '');

/** Read a file as strict UTF-8; a missing file is a DataError naming the path (and the task when given). */
export function readUtf8(path: string, what?: string): string {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'file not found' : `cannot read file (${code ?? (e as Error).message})`;
    throw new DataError(`${why}${what ? ` (needed for ${what})` : ''}`, path);
  }
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(buf);
  } catch {
    const loose = buf.toString('utf8');
    const line = loose.slice(0, loose.indexOf('\ufffd')).split(/\r\n|\r|\n/).length;
    throw new DataError('file is not valid UTF-8', path, line);
  }
}

/** Split file text into rows of fields. Row i (0-based) is line i + 1 of the file. */
export function parseTsv(text: string): string[][] {
  const lines = text.split(/\r\n|\r|\n/);
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  return lines.map((l) => (l === '' ? [] : l.split('\t')));
}

export function readTsv(path: string, what?: string): string[][] {
  return parseTsv(readUtf8(path, what));
}

/**
 * Python float() of a string: surrounding whitespace allowed, underscores between digits, inf/nan words.
 * Returns `null` where Python raises ValueError.
 */
export function parsePyFloat(s: string): number | null {
  const t = s.replace(/^[\s\x1c-\x1f\x85]+|[\s\x1c-\x1f\x85]+$/g, '');
  const digits = '\\d(?:_?\\d)*';
  const num = new RegExp(`^[+-]?(?:(?:${digits})?\\.${digits}|${digits}\\.?)(?:[eE][+-]?${digits})?$`);
  if (num.test(t)) return Number(t.replace(/_/g, ''));
  const m = /^([+-]?)(inf|infinity|nan)$/i.exec(t);
  if (m) return m[2].toLowerCase() === 'nan' ? NaN : m[1] === '-' ? -Infinity : Infinity;
  return null;
}
