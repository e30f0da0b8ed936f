/**
 * The claims table across the studies whose block is "study" (one per task): read from their kept folders only
 * (experiments/results/<study>/: runs' metrics.json, the teacher's, floor.json, analysis/results.json), tested by
 * src/report/claims.ts, written as experiments/results/claims/ (claims.json, figures, index.html) and as the claims
 * blocks of docs/results.md and the README (readme.ts writes those).
 */
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../src/util/provenance.js';
import { atomicWriteJson } from '../../src/util/fsx.js';
import { mean } from '../../src/report/stats.js';
import { testClaims, type Claim, type ClaimAnalysis, type StudyData } from '../../src/report/claims.js';
import { analysisSpecs, mixingSpec, presetsSpec } from '../../src/report/claims-figures.js';
import { renderPlot, type VlSpec } from '../../src/report/render.js';
import { writeHtml, type Section } from '../../src/report/html.js';
import type { AnalysisResults } from '../../src/analysis/run.js';
import { RESULTS } from './collect.js';
import { wrapMd } from './md.js';
import { CLAIMS_DIR, claimsTable, presetsOverview, RESULTS_DOC, resultsDoc } from './claims-md.js';
import { readJson, type Metrics } from './runs.js';

type RunFile = Metrics & { coeffs: Record<string, number> };
const gridMean = (g: number[][]) => mean(g.flat());

/** Per-example measures of an analysis, by model id (see ClaimAnalysis). */
function claimAnalysis(r: AnalysisResults): ClaimAnalysis {
  const students = r.meta.models.filter((m) => m.role === 'student');
  const per = <T>(f: (id: string) => T) => Object.fromEntries(students.map((m) => [m.id, f(m.id)]));
  const t = r.range?.perExample?.teacher ?? [];
  const rangeError = (id: string) =>
    (r.range?.perExample?.[id] ?? []).map((e, k) =>
      mean(e.min.map((v, l) => (Math.abs(v - t[k].min[l]) + Math.abs(e.max[l] - t[k].max[l])) / 2)),
    );
  const hess = r.hessian?.models ?? {};
  return {
    presets: per((id) => students.find((m) => m.id === id)!.label),
    examples: r.meta.examples.length,
    rankingLoss: per((id) => (r.distance?.perExample[id] ?? []).map((d) => gridMean(d.rankingLoss))),
    coverLength: per((id) => (r.distance?.perExample[id] ?? []).map((d) => gridMean(d.coverLengthRatio))),
    rangeError: per(rangeError),
    topEigen: Object.fromEntries(
      Object.entries(hess).map(([id, h]) => [id, h.perExample.map((e) => Math.max(...e.eigenvalues.map(Math.abs)))]),
    ),
    hessianExamples: Math.max(0, ...Object.values(hess).map((h) => h.perExample.length)),
    unscored: students.filter((m) => !(m as { score?: unknown }).score).map((m) => m.label),
  };
}

/** A study's data from its kept folder, or null when it has not run yet. */
export function studyData(name: string): StudyData | null {
  const dir = join(PROJECT_ROOT, RESULTS, name);
  if (!existsSync(join(dir, 'PROVENANCE.json'))) return null;
  const prov = readJson<{ reduced: string | null }>(join(dir, 'PROVENANCE.json'));
  const teacher = readJson<Metrics>(join(dir, 'teacher.metrics.json'));
  const metric = Object.keys(teacher.best?.metrics ?? teacher.last?.metrics ?? {})[0];
  const runs = readdirSync(join(dir, 'runs'))
    .filter((f) => f.endsWith('.metrics.json'))
    .sort()
    .map((f) => readJson<RunFile>(join(dir, 'runs', f)));
  const floorRows = existsSync(join(dir, 'floor.json'))
    ? readJson<{ rows: { model: string; value: number }[] }>(join(dir, 'floor.json')).rows
    : [];
  const analysis = existsSync(join(dir, 'analysis/results.json'))
    ? claimAnalysis(readJson<AnalysisResults>(join(dir, 'analysis/results.json')))
    : null;
  return {
    // the teacher as the students saw it: the weights they distilled from (a teacher folder keeps its final weights)
    study: name,
    task: teacher.task,
    metric,
    teacher: runs.find((m) => m.teacher)?.teacher?.metrics[metric] ?? teacher.last?.metrics[metric] ?? Number.NaN,
    floor: floorRows.find((r) => r.model === 'ternary PTQ')?.value ?? null,
    reduced: prov.reduced,
    majority: existsSync(join(dir, 'majority.json'))
      ? readJson<{ value: number }>(join(dir, 'majority.json')).value
      : null,
    runs: runs.map((m) => ({
      run: m.run ?? '',
      preset: m.preset ?? '',
      seed: m.seed,
      map: m.coeffs.map,
      output: m.coeffs.output,
      best: m.best?.metrics[metric] ?? Number.NaN,
      last: m.last?.metrics[metric] ?? Number.NaN,
    })),
    analysis,
  };
}

interface Figure {
  name: string;
  title: string;
  spec: VlSpec;
}

/**
 * The claims page from the kept study folders (null when none has run): `md` as the page of claims/index.html,
 * `body` as docs/results.md's claims block (no title, subsections one level down, prose wrapped), its figures.
 */
export function claimsDoc(
  names: string[],
): { studies: StudyData[]; claims: Claim[]; md: string; body: string; figures: Figure[] } | null {
  const studies = names.map(studyData).filter((d): d is StudyData => d !== null);
  if (!studies.length) return null;
  const claims = testClaims(studies);
  const figures = studies.flatMap((d) =>
    Object.entries({ presets: presetsSpec(d), mixing: mixingSpec(d), ...analysisSpecs(d) })
      .filter((e): e is [string, VlSpec] => e[1] !== null)
      .map(([k, spec]) => ({ name: `${d.study}-${k}`, title: `${d.task}: ${k.replace(/-/g, ' ')}`, spec })),
  );
  const body = resultsDoc(
    studies,
    claims,
    studies.map((d) => d.task),
    figures,
  );
  return {
    studies,
    claims,
    md: [
      "# Results: the paper's claims at this scale",
      '',
      `<!-- generated by npm run results from ${studies.map((d) => `${RESULTS}/${d.study}/`).join(' and ')}: do not ` +
        `edit by hand -->`,
      '',
      body,
    ].join('\n'),
    body: wrapMd(body.replace(/^## /gm, '### ').trimEnd()),
    figures,
  };
}

/** Write experiments/results/claims/ (claims.json, figures, index.html); returns the claims page (null: no study). */
export async function writeClaims(names: string[]): Promise<ReturnType<typeof claimsDoc>> {
  const doc = claimsDoc(names);
  if (!doc) return null;
  const dir = join(PROJECT_ROOT, CLAIMS_DIR),
    figs = join(dir, 'figures');
  rmSync(figs, { recursive: true, force: true });
  mkdirSync(figs, { recursive: true });
  for (const f of doc.figures) await renderPlot(f.spec, join(figs, f.name));
  atomicWriteJson(join(dir, 'claims.json'), {
    studies: doc.studies.map((d) => d.study),
    claims: doc.claims,
    data: doc.studies,
  });
  const sections: Section[] = [{ kind: 'text', text: doc.md.split('\n## Figures')[0].replace(/^# .*\n/, '') }];
  for (const f of doc.figures) sections.push({ kind: 'plot', title: f.title, file: join(figs, `${f.name}.svg`) });
  // dated by the newest study folder, so that the page changes only when its inputs do
  const date = new Date(
    Math.max(
      ...doc.studies.map((d) =>
        Date.parse(
          readJson<{ generated: { date: string } }>(join(PROJECT_ROOT, RESULTS, d.study, 'PROVENANCE.json')).generated
            .date,
        ),
      ),
    ),
  );
  await writeHtml(join(dir, 'index.html'), { title: "kdqat: the paper's claims at this scale", sections, date });
  return doc;
}

export function claimsBlock(names: string[]): string | null {
  const studies = names.map(studyData).filter((d): d is StudyData => d !== null);
  if (!studies.length) return null;
  return wrapMd(
    [
      claimsTable(
        testClaims(studies),
        studies.map((d) => d.task),
        false,
      ),
      '',
      presetsOverview(studies),
      '',
      `With tiny teachers from scratch, the students' reduced recipe and three seeds, only large effects are ` +
        `resolved; what each verdict rests on: [${RESULTS_DOC}](${RESULTS_DOC}#the-papers-claims-at-this-scale).`,
    ].join('\n'),
  );
}
