/** The non-model parts of a fixture set: glue/ (features) and metrics/ (metric values). */
import { resolveGlueDir } from '../data/tasks.js';
import type { Report } from './report.js';
import { verifyGlue } from './glue.js';
import { verifyMetrics } from './metrics.js';

export async function verifyExtra(
  fixturesDir: string,
  report: Report,
  only?: string[],
  glueDir?: string,
): Promise<void> {
  if (!only || only.includes('glue')) await verifyGlue(fixturesDir, report, { glueDir: resolveGlueDir(glueDir) });
  if (!only || only.includes('metrics')) await verifyMetrics(fixturesDir, report);
}
