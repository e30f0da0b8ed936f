/**
 * Check src/data/metrics.ts against `<fixtureDir>/metrics/*.json` (scikit-learn / scipy values): every expected
 * metric of every case, absolute tolerance 1e-9. Unknown metric names are reported as not checked yet.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { accuracy, f1Binary, matthewsCorr, pearson, spearman } from '../data/metrics.js';
import type { Report } from './report.js';

type Fn = (p: number[], l: number[]) => number;
const METRICS: Record<string, Fn> = {
  acc: accuracy,
  f1: f1Binary,
  acc_and_f1: (p, l) => (accuracy(p, l) + f1Binary(p, l)) / 2,
  mcc: matthewsCorr,
  pearson,
  spearman,
  spearmanr: spearman,
  corr: (p, l) => (pearson(p, l) + spearman(p, l)) / 2,
};
/** case fields that are inputs or descriptions, not expected values */
const STRUCTURAL = new Set(['kind', 'labels', 'preds', 'name', 'description']);
const TOL = 1e-9;

export function verifyMetrics(fixtureDir: string, report: Report): void {
  const dir = join(fixtureDir, 'metrics');
  if (!existsSync(dir)) return;
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()) {
    const fixture = `metrics/${basename(file, '.json')}`;
    let doc: { cases?: Record<string, unknown>[]; [k: string]: unknown };
    try {
      doc = JSON.parse(readFileSync(join(dir, file), 'utf8'));
    } catch (e) {
      report.fail(fixture, '(file)', `cannot parse ${join(dir, file)}: ${(e as Error).message}`);
      continue;
    }
    for (const k of Object.keys(doc))
      if (k !== 'cases' && k !== 'source') report.skip(fixture, k, 'unknown top-level key');
    if (!Array.isArray(doc.cases)) {
      report.fail(fixture, 'cases', 'no "cases" array');
      continue;
    }
    doc.cases.forEach((c, i) => {
      const tag = `case${i}${typeof c.kind === 'string' ? `(${c.kind})` : ''}`;
      const { labels, preds } = c as { labels?: unknown; preds?: unknown };
      if (
        !Array.isArray(labels) ||
        !Array.isArray(preds) ||
        labels.some((v) => typeof v !== 'number') ||
        preds.some((v) => typeof v !== 'number')
      ) {
        report.fail(fixture, tag, 'case lacks numeric "labels" / "preds" arrays');
        return;
      }
      for (const [key, expected] of Object.entries(c)) {
        if (STRUCTURAL.has(key)) continue;
        const fn = METRICS[key];
        if (!fn) {
          report.skip(fixture, `${tag}.${key}`, 'unknown metric name');
          continue;
        }
        if (typeof expected !== 'number') {
          report.fail(fixture, `${tag}.${key}`, `expected value is not a number: ${JSON.stringify(expected)}`);
          continue;
        }
        let actual: number;
        try {
          actual = fn(preds as number[], labels as number[]);
        } catch (e) {
          report.fail(fixture, `${tag}.${key}`, (e as Error).message);
          continue;
        }
        report.compare(fixture, `${tag}.${key}`, [actual], [expected], TOL, 'abs');
      }
    });
  }
}
