/**
 * The small typed schema behind the analyze config: a setting's value from a config file (checked, the key named)
 * or from its flag (a string, converted), with the same words for what is allowed either way.
 */
import type { Field, Setting } from './types.js';

/** A bad config file or flag value: one line, exit 2 (the CLIs report errors of this name without a stack). */
export class AnalysisConfigError extends Error {
  constructor(msg: string) {
    super(msg);
    this.name = 'ConfigError';
  }
}

const words = (xs: readonly string[]) => (xs.length > 1 ? `${xs.slice(0, -1).join(', ')} or ${xs.at(-1)}` : xs[0]);

/** What a field allows, in words: "an integer >= 1", "reference or data", "a list of teacher, student". */
export function allowed(f: Field): string {
  switch (f.kind) {
    case 'int':
    case 'float': {
      const bounds = [
        'above' in f && f.above !== undefined ? `> ${f.above}` : f.min !== undefined ? `>= ${f.min}` : '',
        'max' in f && f.max !== undefined ? `<= ${f.max}` : '',
      ].filter(Boolean);
      const w = 'words' in f && f.words?.length ? ` (or ${f.words.join(', ')})` : '';
      return `${f.kind === 'int' ? 'an integer' : 'a number'}${bounds.length ? ` ${bounds.join(' and ')}` : ''}${w}`;
    }
    case 'enum':
      return words(f.values);
    case 'list':
      return f.values ? `a list of ${words(f.values)}` : 'a list of strings';
    case 'string':
      return 'a string';
    case 'bool':
      return 'true or false';
  }
}

function inRange(f: Field & { kind: 'int' | 'float' }, n: number): boolean {
  if (!Number.isFinite(n) || (f.kind === 'int' && !Number.isInteger(n))) return false;
  if (f.min !== undefined && n < f.min) return false;
  if ('above' in f && f.above !== undefined && n <= f.above) return false;
  return !('max' in f && f.max !== undefined && n > f.max);
}

/** A config-file value of a field, checked: undefined when it is not allowed. */
function fromFile(f: Field, v: unknown): { ok: true; value: unknown } | { ok: false } {
  const ok = (value: unknown) => ({ ok: true as const, value });
  switch (f.kind) {
    case 'int':
    case 'float':
      if (typeof v === 'string' && f.kind === 'int' && f.words?.includes(v)) return ok(v);
      return typeof v === 'number' && inRange(f, v) ? ok(v) : { ok: false };
    case 'enum':
      return typeof v === 'string' && f.values.includes(v) ? ok(v) : { ok: false };
    case 'list':
      return Array.isArray(v) && v.every((x) => typeof x === 'string' && (!f.values || f.values.includes(x)))
        ? ok(v)
        : { ok: false };
    case 'string':
      return typeof v === 'string' || v === null ? ok(v) : { ok: false };
    case 'bool':
      return typeof v === 'boolean' ? ok(v) : { ok: false };
  }
}

/** A flag's value (as parsed: a string, or true for a boolean flag) converted to the setting's type. */
function fromFlag(s: Setting, v: string | boolean): unknown {
  const f = s.field;
  const bad = () => new AnalysisConfigError(`--${s.flag} must be ${allowed(f)}, got "${v}"`);
  if (f.kind === 'bool') return f.flagMeans !== false;
  const text = String(v);
  if (f.kind === 'int' || f.kind === 'float') {
    if (f.kind === 'int' && f.words?.includes(text)) return text;
    const n = Number(text);
    if (text.trim() === '' || !inRange(f, n)) throw bad();
    return n;
  }
  if (f.kind === 'enum') {
    if (!f.values.includes(text)) throw bad();
    return text;
  }
  if (f.kind === 'list') {
    const xs = text
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean);
    const wrong = xs.find((x) => f.values && !f.values.includes(x));
    if (wrong !== undefined) throw new AnalysisConfigError(`--${s.flag}: "${wrong}" is not ${words(f.values ?? [])}`);
    return xs;
  }
  return text;
}

/**
 * The values of `settings` from a config-file section (`at`: its path and section name, for the errors) and flags
 * (which win), else the defaults. Unknown keys of the section are errors.
 */
export function resolveSettings(
  settings: Setting[],
  section: Record<string, unknown>,
  flags: Record<string, string | boolean | undefined>,
  at: { path?: string; section?: string } = {},
): Record<string, unknown> {
  const known = settings.map((s) => s.key);
  for (const k of Object.keys(section))
    if (!known.includes(k))
      throw new AnalysisConfigError(`${fileOf(at)}unknown ${keyOf(at, k)} (known: ${known.join(', ')})`);
  const out: Record<string, unknown> = {};
  for (const s of settings) {
    let value = s.default;
    if (s.key in section) {
      const r = fromFile(s.field, section[s.key]);
      if (!r.ok)
        throw new AnalysisConfigError(
          `${fileOf(at)}${keyOf(at, s.key)} must be ${allowed(s.field)}, got ${JSON.stringify(section[s.key])}`,
        );
      value = r.value;
    }
    const flag = flags[s.flag];
    if (flag !== undefined && flag !== false) value = fromFlag(s, flag);
    out[s.key] = value;
  }
  return out;
}

/** the start of an error about a config file: "--config FILE: " */
export const fileOf = (at: { path?: string }) => (at.path ? `--config ${at.path}: ` : '');
/** a key in words: config key "hessian.tol" */
export const keyOf = (at: { section?: string }, k: string) => `config key "${at.section ? `${at.section}.` : ''}${k}"`;

/** A flag table entry per setting (the CLI's parser checks the numeric ones against their range). */
export function flagsOf(
  settings: Setting[],
): Record<string, { type: 'string' | 'boolean'; help: string; num?: object }> {
  const out: Record<string, { type: 'string' | 'boolean'; help: string; num?: object }> = {};
  for (const s of settings) {
    const f = s.field;
    const dflt =
      s.default === undefined ||
      s.default === null ||
      typeof s.default === 'boolean' ||
      (Array.isArray(s.default) && !s.default.length)
        ? ''
        : ` (default ${Array.isArray(s.default) ? s.default.join(',') : s.default})`;
    out[s.flag] = {
      type: f.kind === 'bool' ? 'boolean' : 'string',
      help: `${s.help}${dflt}`,
      ...(f.kind === 'int' || f.kind === 'float' ? { num: { ...f } } : {}),
    };
  }
  return out;
}
