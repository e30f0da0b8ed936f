/**
 * The analysis report: every figure of src/analysis/plots.ts rendered to plots/<name>.{svg,png} and one
 * self-contained report.html (SVGs inlined, summary tables), written atomically into the output folder.
 */
import { join } from 'node:path';
import { allSpecs } from './plots.js';
import { renderAll } from '../report/render.js';
import { writeHtml, type Section } from '../report/html.js';

/** a summary table of the report: column heads and rows */
interface HtmlSection { title: string; text?: string; table?: { head: string[]; rows: (string | number)[][] } }
import type { AnalysisResults } from './run.js';

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

const CAPTIONS: Record<string, [string, string]> = {
  'distance-ranking-loss': ['Attention-map distance: ranking loss (Figure 4)', 'Per head, summed over query rows and key pairs: how often the student orders two keys differently from the teacher, weighted by the student\'s probability gap. Lower = closer to the teacher. A sum over n^3 terms: it grows with the sequence length, hence the wide band over examples of different lengths.'],
  'distance-cover-length': ['Attention-map distance: cover length ratio (Figure 4)', 'Per head: how far down the student\'s ranking the teacher\'s top-5 keys reach, averaged over rows and divided by n. Lower = the student covers the teacher\'s top keys earlier.'],
  'distance-row-kl': ['Attention-map distance: row KL', 'Per head: the map loss (teacher || student KL summed over rows, divided by n).'],
  'hessian-density': ['Hessian eigenvalue spectra (Figure 3)', 'Kernel density of the top eigenvalues (by magnitude) collected over examples, split into negative and positive; ticks at the bottom mark the eigenvalues themselves.'],
  'hessian-layers': ['Hessian top eigenvalue per parameter group', 'Power iteration restricted to one group of parameters at a time (the diagonal block of the Hessian).'],
  'range-min-max': ['Attention-output dynamic range (Figure 5)', 'Per layer and token: minimum and maximum over the hidden dimension of the post-LayerNorm attention output. Teacher dashed grey.'],
  'norm-curves': ['Norm-based analysis per layer (Figure 6)', '|teacher - student| of the mean attention weight alpha, of ||f(x)|| and of ||sum_h alpha f(x)|| for keys of each token class.'],
  'norm-heatmaps': ['Norm-based analysis per head', 'Attention received by the token (PROB), ||f(x)|| of the token and ||alpha f(x)|| of its query row, per layer and head; then |teacher - student|.'],
};

function tables(r: AnalysisResults): HtmlSection[] {
  const label = (id: string) => r.meta.models.find((m) => m.id === id)?.label ?? id;
  const out: HtmlSection[] = [];
  if (r.distance) {
    out.push({ title: 'Attention-map distance: mean over heads', table: { head: ['model', 'ranking loss', 'cover length ratio', 'row KL'], rows: Object.entries(r.distance.models).map(([id, d]) => [label(id), mean(d.rankingLoss.mean.flat()), mean(d.coverLengthRatio.mean.flat()), mean(d.rowKl.mean.flat())]) } });
  }
  if (r.hessian) {
    const rows = Object.entries(r.hessian.models).map(([id, h]) => {
      const top = h.perExample.map((e) => e.eigenvalues[0]);
      const all = h.perExample.flatMap((e) => e.eigenvalues);
      const conv = h.perExample.flatMap((e) => e.converged).filter(Boolean).length;
      return [label(id), h.perExample.length, mean(top), Math.max(...all), Math.min(...all), `${conv}/${h.perExample.flatMap((e) => e.converged).length}`, mean(h.perExample.map((e) => e.seconds)),
        ...(r.hessian!.settings.trace ? [mean(h.perExample.map((e) => e.trace ?? NaN))] : [])];
    });
    const st = r.hessian.settings;
    const how = st.method === 'power' ? 'Power iteration with deflation (PyHessian)' : 'Lanczos with full reorthogonalisation';
    const warn = r.hessian.warnings.length ? ` WARNING: ${r.hessian.warnings.join(' ')}` : '';
    const l2 = Object.values(r.hessian.models).flatMap((h) => h.perExample.flatMap((e) => e.l2Terms.filter((x): x is string => x !== null)));
    const l2Note = l2.length ? ` ${l2.length} of the eigenvalues equal l2 / ||p|| of a parameter (the norm term alone, not data curvature): ${[...new Set(l2)].join(', ')}.` : '';
    out.push({ title: 'Hessian eigenvalues', text: `${how}: top ${st.topN} by magnitude, maxIter ${st.maxIter}, tol ${st.tol}, seed ${st.seed}, ${st.mode} mode; loss CE/MSE + ${st.l2} sum ||p||, eval mode, ${st.params ? `parameters matching /${st.params}/` : 'all parameters'}, STE through the quantizers.${l2Note}${warn}`,
      table: { head: ['model', 'spectra', 'mean first eigenvalue', 'max', 'min', 'converged', 's per spectrum', ...(r.hessian.settings.trace ? ['mean trace'] : [])], rows } });
  }
  if (r.range) {
    const L = Object.values(r.range.meanRange)[0]?.min.length ?? 0;
    out.push({ title: 'Attention-output range: mean over tokens and examples', table: { head: ['model', ...Array.from({ length: L }, (_, l) => `layer ${l} min / max`)], rows: Object.entries(r.range.meanRange).map(([id, m]) => [label(id), ...m.min.map((v, l) => `${v.toFixed(3)} / ${m.max[l].toFixed(3)}`)]) } });
  }
  return out;
}

/** Render plots and write report.html; returns the HTML path. */
export async function writeAnalysisReport(r: AnalysisResults, outDir: string): Promise<string> {
  const svgs = await renderAll(allSpecs(r), join(outDir, 'plots'));
  const plots: Section[] = Object.entries(svgs).map(([name, svg]) => ({ kind: 'plot', title: CAPTIONS[name]?.[0] ?? name, caption: CAPTIONS[name]?.[1], svg }));
  const summaries: Section[] = tables(r).flatMap((t): Section[] => [
    ...(t.text ? [{ kind: 'text' as const, text: t.text }] : []),
    { kind: 'table', title: t.title, table: t.table!.rows.map((row) => Object.fromEntries(t.table!.head.map((h, i) => [h, row[i]]))) },
  ]);
  const models = r.meta.models.map((m) => `${m.label} (${m.role}${m.dir ? `, ${m.dir}` : ''})`).join('; ');
  const intro = `Task ${r.meta.task}; ${r.meta.examples.length} dev examples, batch 1, each sliced to its length; token_type_ids ${r.meta.tokenTypes}. Models: ${models}. Plots also in plots/ as SVG and PNG; numbers in results.json.`;
  return writeHtml(join(outDir, 'report.html'), { title: `KD-QAT analysis: ${r.meta.task}`, sections: [{ kind: 'text', text: intro }, ...summaries, ...plots], provenance: r.meta });
}
