/**
 * The students a KD-QAT run keeps (docs/students.md): `student/` = the weights of its best dev evaluation,
 * `student-last/` = the weights after its final step, each with the evaluation that scored it in its kdqat.json
 * ("scored": step, metrics, selection, and the evaluation settings: batch size, length, example limit, padding).
 * Runs made before this keep only `student/`, the final weights, unscored: accepted, and said.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { UserError } from '../util/errors.js';

export type Which = 'best' | 'last';
export const STUDENT_DIRS: Record<Which, string> = { best: 'student', last: 'student-last' };

/** How a run evaluated on dev: what a re-evaluation must match to give the same predictions. */
export interface EvalSettings {
  split: 'dev';
  batchSize: number;
  maxSeqLen: number;
  evalLimit: number | null;
  dynamicPadding: boolean;
  examples: number;
}

/** The evaluation that scored a kept student. */
export interface StudentScore {
  which: Which;
  step: number;
  metrics: Record<string, number>;
  selection: number;
  eval: EvalSettings;
}

/** A --which value (best, the default, or last); anything else is a UserError. */
export function parseWhich(v: unknown): Which {
  if (v === undefined) return 'best';
  if (v === 'best' || v === 'last') return v;
  throw new UserError(`--which must be best or last, got "${String(v)}"`);
}

const isModelDir = (d: string) => existsSync(join(d, 'model.safetensors')) && existsSync(join(d, 'config.json'));

/**
 * The recorded score of a student folder (its kdqat.json "scored"), or null (an older run's, or not a run's
 * student).
 */
export function studentScore(dir: string): StudentScore | null {
  const p = join(dir, 'kdqat.json');
  if (!existsSync(p)) return null;
  try {
    const s = (JSON.parse(readFileSync(p, 'utf8')) as { scored?: StudentScore }).scored;
    return s && typeof s === 'object' && typeof s.selection === 'number' ? s : null;
  } catch {
    return null;
  }
}

export interface ResolvedStudent {
  dir: string;
  run: string | null;
  which: Which;
  score: StudentScore | null;
  note: string | null;
}

/**
 * The student folder meant by `path`: a run folder (its student/ or student-last/ by `which`) or a student folder
 * itself (then `which` must agree with what it is, when recorded). Throws a UserError naming what is missing.
 */
export function resolveStudent(path: string, which: Which = 'best'): ResolvedStudent {
  const p = resolve(path);
  if (!existsSync(p)) throw new UserError(`${path}: no such folder`);
  const isRun = existsSync(join(p, STUDENT_DIRS.best)) && isModelDir(join(p, STUDENT_DIRS.best));
  if (isRun) {
    const dir = join(p, STUDENT_DIRS[which]);
    const bestScore = studentScore(join(p, STUDENT_DIRS.best));
    if (which === 'last' && !isModelDir(dir)) {
      if (!bestScore)
        return {
          dir: join(p, STUDENT_DIRS.best),
          run: p,
          which,
          score: null,
          note:
            `${p} was made before kdqat kept best and last students: ` +
            'its student/ holds the final weights, which no evaluation scored',
        };
      throw new UserError(`${p}: no ${STUDENT_DIRS.last}/ (the final weights); it has only ${STUDENT_DIRS.best}/`);
    }
    const score = studentScore(dir);
    const note = score
      ? null
      : which === 'best'
        ? `${p} was made before kdqat kept its best student: student/ holds the final weights (not the best), ` +
          'which no evaluation scored; --which does not apply'
        : null;
    return { dir, run: p, which: score ? which : 'last', score, note };
  }
  if (!isModelDir(p))
    throw new UserError(
      `${path}: not a student directory (neither a KD-QAT run folder with student/, ` +
        'nor a student folder with config.json and model.safetensors)',
    );
  const score = studentScore(p);
  const parent = dirname(p);
  const run =
    [STUDENT_DIRS.best, STUDENT_DIRS.last].includes(basename(p)) && existsSync(join(parent, 'config.json'))
      ? parent
      : null;
  if (score && which === 'last' && score.which !== 'last')
    throw new UserError(
      `${path} is the ${score.which} student; ` +
        `pass its run folder with --which last, or its ${STUDENT_DIRS.last}/ folder`,
    );
  return { dir: p, run, which: score?.which ?? which, score, note: null };
}

/** "best student (step 12): dev acc 0.5312 (selection 53.12) at eval batch 8" */
export function describeScore(s: StudentScore, metric: string): string {
  const v = s.metrics[metric];
  return (
    `${s.which} student (step ${s.step}): dev ${metric} ${v === undefined ? '?' : v} (selection ${s.selection}) ` +
    `on ${s.eval.examples} examples at evaluation batch ${s.eval.batchSize}`
  );
}
