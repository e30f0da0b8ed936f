/**
 * The teacher a sweep distils from: where it is, the recipe it was fine-tuned with (recorded by `npm run finetune`
 * in its kdqat.json) and its dev metric; and whether that recipe is reduced relative to the one the sweep would
 * fine-tune it with (a smaller train limit, fewer epochs, a step cap): a smoke test's teacher left in models/ would
 * otherwise silently become the teacher of a full sweep.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunConfig } from '../train/config.js';

export interface TeacherRecipe {
  trainLimit: number | null;
  epochs: number;
  maxSteps: number | null;
  lr: number | null;
  seed: number | null;
}

export interface TeacherInfo {
  dir: string;
  recipe: TeacherRecipe | null;
  metric: string | null;
}

// biome-ignore lint/suspicious/noExplicitAny: recorded JSON of any kdqat version, read field by field
const readJson = (p: string): Record<string, any> | null => {
  try {
    return existsSync(p) ? JSON.parse(readFileSync(p, 'utf8')) : null;
  } catch {
    return null;
  }
};

/** A teacher folder's recorded recipe and dev metric (null each when not recorded, e.g. a teacher made elsewhere). */
export function teacherInfo(dir: string): TeacherInfo {
  const k = readJson(join(dir, 'kdqat.json'));
  const c = k?.config as Partial<RunConfig> | undefined;
  const recipe =
    c?.train && c.data && typeof c.train.epochs === 'number'
      ? {
          trainLimit: c.data.trainLimit ?? null,
          epochs: c.train.epochs,
          maxSteps: c.train.maxSteps ?? null,
          lr: c.train.lr ?? null,
          seed: typeof c.seed === 'number' ? c.seed : null,
        }
      : null;
  const best = (k?.metrics ?? readJson(join(dir, 'metrics.json')))?.best as
    | { metrics?: Record<string, number> }
    | undefined;
  const metric = best?.metrics
    ? Object.entries(best.metrics)
        .map(([n, v]) => `${n} ${Number(v.toFixed(4))}`)
        .join(', ')
    : null;
  return { dir, recipe, metric };
}

/** "train limit 256, epochs 1, lr 1e-4, seed 42" */
export function describeRecipe(r: TeacherRecipe): string {
  return [
    `train limit ${r.trainLimit ?? 'none (all examples)'}`,
    `epochs ${r.epochs}`,
    ...(r.maxSteps !== null ? [`max steps ${r.maxSteps}`] : []),
    ...(r.lr !== null ? [`lr ${r.lr}`] : []),
    ...(r.seed !== null ? [`seed ${r.seed}`] : []),
  ].join(', ');
}

/**
 * How the teacher's recipe falls short of `want` (the sweep's own teacher recipe): one phrase per difference, none when
 * not reduced.
 */
export function recipeReductions(have: TeacherRecipe, want: RunConfig): string[] {
  const out: string[] = [];
  const wl = want.data.trainLimit;
  if (have.trainLimit !== null && (wl === null || have.trainLimit < wl))
    out.push(`train limit ${have.trainLimit} (this sweep: ${wl ?? 'none, all examples'})`);
  if (have.epochs < want.train.epochs) out.push(`epochs ${have.epochs} (this sweep: ${want.train.epochs})`);
  const wm = want.train.maxSteps;
  if (have.maxSteps !== null && (wm === null || have.maxSteps < wm))
    out.push(`max steps ${have.maxSteps} (this sweep: ${wm ?? 'none'})`);
  return out;
}
