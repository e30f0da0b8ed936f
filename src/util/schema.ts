/**
 * A small declarative schema for plain JSON configs: each key has a kind and may allow null. Checking a value
 * against it gives the errors the CLIs print, naming the key ("config key "train.epochs" must be a number").
 */
import { ConfigError, didYouMean } from './errors.js';

type Kind = 'number' | 'int' | 'posint' | 'string' | 'boolean' | 'object' | 'any';
export interface Field {
  readonly kind: Kind;
  readonly nullable: boolean;
}

const field = (kind: Kind): Field => ({ kind, nullable: false });
export const number = field('number');
export const int = field('int');
export const posint = field('posint');
export const string = field('string');
export const boolean = field('boolean');
export const object = field('object');
export const any = field('any');
/** the same kind, or null */
export const nullable = (f: Field): Field => ({ ...f, nullable: true });

/** One field per key of T, every key present (optional keys too), no other key. */
export type Schema<T> = { readonly [K in keyof Required<T>]: Field };

/** Throws a ConfigError naming `path` unless `v` is of the field's kind (or null where allowed). */
export function checkValue(path: string, v: unknown, f: Field): void {
  if (f.nullable && v === null) return;
  const bad = (what: string) => {
    throw new ConfigError(`config key "${path}" must be ${what}, got ${JSON.stringify(v)}`);
  };
  const k = f.kind;
  if (k === 'any') return;
  if (k === 'string' && typeof v !== 'string') bad('a string');
  if (k === 'boolean' && typeof v !== 'boolean') bad('true or false');
  if (k === 'object' && (typeof v !== 'object' || Array.isArray(v))) bad('an object');
  if (k === 'number' || k === 'int' || k === 'posint') {
    if (typeof v !== 'number' || !Number.isFinite(v)) bad('a number');
    if (k !== 'number' && !Number.isInteger(v)) bad('an integer');
    if (k === 'posint' && (v as number) < 1) bad('a positive integer');
  }
}

/** The error of a key that the schema does not have, with the closest known key and the list of known ones. */
export function unknownKey(key: string, known: readonly string[], prefix = '', knownList = known): ConfigError {
  return new ConfigError(
    `unknown config key "${prefix}${key}"${didYouMean(key, known, prefix)} (known: ${knownList.join(', ')})`,
  );
}

/** Check every key of `over` against the section `name`'s schema and copy it into `target`. */
export function mergeSection(
  name: string,
  schema: Record<string, Field>,
  target: Record<string, unknown>,
  over: unknown,
): void {
  if (typeof over !== 'object' || over === null || Array.isArray(over))
    throw new ConfigError(`config key "${name}" must be an object`);
  const known = Object.keys(schema);
  for (const [k, v] of Object.entries(over)) {
    const f = schema[k];
    if (!f)
      throw unknownKey(
        k,
        known,
        `${name}.`,
        known.map((x) => `${name}.${x}`),
      );
    checkValue(`${name}.${k}`, v, f);
    target[k] = v;
  }
}
