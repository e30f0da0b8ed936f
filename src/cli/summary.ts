/**
 * The last lines of finetune and qat: the result first (best and last dev metric, the teacher's beside a student's).
 */

type Rec = { step?: number; metrics: Record<string, number> } | null | undefined;

const fmt = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(4));

/**
 * A small table: one row per metric, one column per record (e.g. best, last, teacher), each headed with its name
 * and the step it was measured at.
 */
export function metricTable(cols: [string, Rec][]): string {
  const shown = cols.filter(([, r]) => r);
  const keys = [...new Set(shown.flatMap(([, r]) => Object.keys(r!.metrics)))];
  if (!keys.length) return '  (no dev evaluation)';
  const head = ['dev', ...shown.map(([n, r]) => (r!.step !== undefined ? `${n} (step ${r!.step})` : n))];
  const rows = keys.map((k) => [k, ...shown.map(([, r]) => fmt(r!.metrics[k]))]);
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return [head, ...rows]
    .map((r) => `  ${r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('   ')}`)
    .join('\n');
}

/**
 * finetune's ending: where the teacher went, then its best and last dev metrics, then a warning if it learnt nothing.
 */
export function finetuneEnding(dir: string, m: { best?: Rec; last?: Rec; warning?: string }): string {
  return [
    `finetune: teacher saved to ${dir} (metrics.json there)`,
    metricTable([
      ['best', m.best],
      ['last', m.last],
    ]),
    ...(m.warning ? [`  WARNING: ${m.warning}`] : []),
  ].join('\n');
}

/** qat's ending: the student's best and last beside the teacher's, where it was written, and a teacher warning. */
export function qatEnding(
  runDir: string,
  m: { best?: Rec; last?: Rec; teacher?: { metrics?: Record<string, number>; warning?: string; dir?: string } },
  timing: string,
): string {
  const teacher: Rec = m.teacher?.metrics ? { metrics: m.teacher.metrics } : null;
  return [
    `qat: ${timing}; written to ${runDir}`,
    metricTable([
      ['student best', m.best],
      ['student last', m.last],
      ['teacher', teacher],
    ]),
    ...(m.teacher?.warning ? [`  WARNING: ${m.teacher.warning}`] : []),
  ].join('\n');
}
