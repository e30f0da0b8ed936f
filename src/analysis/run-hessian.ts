/**
 * Hessian spectra, the computation behind src/analysis/analyses/hessian.ts (docs/method.md §7b, the reference's Exp2
 * notebook): per dev example (batch 1) or over all of them (dataset mode), for the teacher and/or the students, the
 * top-n eigenvalues of the Hessian loss by PyHessian's power iteration or by Lanczos; optionally the Hutchinson trace
 * and the top eigenvalue of each parameter group.
 */
import * as tf from '@tensorflow/tfjs';
import { BertHessian, layerSubsets, type HessianBatch } from './hessian.js';
import { lanczos, topByMagnitude } from './eigen.js';
import { AnalysisStopped, type AnalysisExample, type AnalysisModel } from './types.js';
import type { Batch } from '../model/bert.js';

export interface HessianSettings {
  examples: number;
  topN: number;
  maxIter: number;
  tol: number;
  seed: number;
  l2: number;
  /**
   * reference (default): task loss + l2 sum ||p||, tensors with ||p|| <= normMin (default 0: exact zeros only) left
   * out of the norm term; data: the task loss alone
   */
  loss?: 'reference' | 'data';
  normMin?: number;
  mode: 'example' | 'dataset';
  method: 'power' | 'lanczos';
  layers: boolean;
  trace: boolean;
  roles: ('teacher' | 'student')[];
  /** regex source of the differentiated parameters (default: all) */
  params: string | null;
}

export interface HessianRow {
  index: number | 'dataset';
  eigenvalues: number[];
  iterations: number[];
  converged: boolean[];
  /** per eigenvalue: the parameter whose L2 term l2 / ||p|| it equals (within 1%), i.e. not a data curvature */
  l2Terms: (string | null)[];
  trace?: number;
  layers?: Record<string, number>;
  seconds: number;
}

export interface HessianResults {
  settings: HessianSettings;
  models: Record<string, { perExample: HessianRow[] }>;
  warnings: string[];
  /** per model: tensors left out of the norm term (||p|| <= normMin), with their norms */
  normExcluded: Record<string, Record<string, number>>;
}

/** The loss the spectra are of, in words (report, plots). */
export function hessianLossText(s: Pick<HessianSettings, 'loss' | 'l2' | 'normMin'>): string {
  return s.loss === 'data'
    ? 'task loss alone (CE/MSE)'
    : `CE/MSE + ${s.l2} sum ||p|| (tensors with ||p|| <= ${s.normMin ?? 0} left out of the norm term)`;
}

/**
 * Parameters whose L2 term l2 / ||p|| (the norm term's Hessian eigenvalue, multiplicity numel - 1) is large: a
 * near-zero tensor (e.g. attention key biases, which get no gradient: softmax is shift invariant) then dominates
 * the whole spectrum. That is the reference's loss, but worth saying.
 */
export function dominantNormTerms(terms: Map<string, number>, threshold = 1e3): string[] {
  return [...terms].filter(([, e]) => e > threshold).map(([n, e]) => `${n} (l2 / ||p|| = ${e.toExponential(3)})`);
}

/**
 * l2 / ||p|| of every differentiated parameter with ||p|| > normMin: the eigenvalue of its L2 term (multiplicity
 * numel - 1); and the tensors left out of the norm term (0 < ||p|| <= normMin), with their norms.
 */
export function normTermEigenvalues(
  m: AnalysisModel,
  l2: number,
  subset: RegExp | null,
  normMin = 0,
): { terms: Map<string, number>; excluded: Record<string, number> } {
  const terms = new Map<string, number>(),
    excluded: Record<string, number> = {};
  if (l2 <= 0) return { terms, excluded };
  for (const [n, p] of Object.entries(m.params)) {
    const nrm = tf.tidy(() => tf.norm(p).dataSync()[0]);
    if (nrm <= normMin) {
      excluded[n] = nrm;
      continue;
    }
    if (subset && !subset.test(n)) continue;
    if (nrm > 0 && p.size > 1) terms.set(n, l2 / nrm);
  }
  return { terms, excluded };
}

/** the parameter whose L2-term eigenvalue is nearest to lambda, if within 1% (power iteration stopped at tol 1e-3
 * between two such terms can sit a few 1e-3 away from either) */
function matchNormTerm(lambda: number, terms: Map<string, number>): string | null {
  let best: string | null = null,
    err = 1e-2;
  for (const [n, e] of terms) {
    const r = Math.abs(lambda - e) / e;
    if (r <= err) {
      best = n;
      err = r;
    }
  }
  return best;
}

/**
 * Resumption of the spectra: rows already computed (kept from an interrupted run), a callback per new row, a stop
 * check.
 */
export interface HessianResume {
  done?: Record<string, HessianRow[]>;
  onRow?: (modelId: string, rows: HessianRow[]) => void;
  /** checked before each spectrum: true stops (AnalysisStopped) with the rows so far reported through onRow */
  shouldStop?: () => boolean;
  /**
   * said once before the first spectrum is computed: how many remain, at most how many Hv products each, and one
   * product's seconds (measured)
   */
  onPlan?: (remaining: number, total: number, maxProducts: number, secondsPerProduct: number) => void;
}

export async function runHessian(
  models: AnalysisModel[],
  examples: AnalysisExample[],
  hs: HessianSettings,
  makeBatch: (e: AnalysisExample) => Batch,
  onDone: (done: number, total: number, what: string) => void,
  log: (s: string) => void,
  resume: HessianResume = {},
): Promise<HessianResults> {
  const hModels = models.filter((m) => (hs.roles as string[]).includes(m.role));
  const hex = examples.slice(0, Math.min(hs.examples, examples.length));
  const subset = hs.params ? new RegExp(hs.params) : null;
  const l2 = hs.loss === 'data' ? 0 : hs.l2;
  const res: HessianResults = { settings: hs, models: {}, warnings: [], normExcluded: {} };
  const normMin = hs.normMin ?? 0;
  const normInfo = new Map(hModels.map((m) => [m.id, normTermEigenvalues(m, l2, subset, normMin)]));
  const termsOf = new Map([...normInfo].map(([id, x]) => [id, x.terms]));
  for (const m of hModels) {
    const ex = normInfo.get(m.id)!.excluded;
    res.normExcluded[m.id] = ex;
    if (Object.keys(ex).length) {
      const list = Object.entries(ex)
        .map(([n, v]) => `${n} (${v.toExponential(2)})`)
        .join(', ');
      log(
        `${m.label}: ${Object.keys(ex).length} tensor(s) with ||p|| <= ${normMin} left out of the norm term: ${list}`,
      );
    }
    const dom = dominantNormTerms(termsOf.get(m.id)!);
    if (dom.length) {
      const w =
        `${m.label}: the L2 term of ${dom.length} near-zero parameter tensor(s) dominates the spectrum: ` +
        `${dom.join('; ')}. ` +
        `Leave them out with --hessian-params (a regex of the parameters to differentiate, e.g. '^(?!.*key\\.bias$)').`;
      res.warnings.push(w);
      log(`warning: ${w}`);
    }
  }
  const groups = hs.mode === 'dataset' ? [hex] : hex.map((e) => [e]);
  const indexOf = (group: AnalysisExample[]) => (group.length === 1 ? group[0].index : 'dataset');
  // rows kept from an interrupted run of the same settings: those of the same examples, in order
  const kept = new Map(
    hModels.map((m) => {
      const prev = resume.done?.[m.id] ?? [];
      let n = 0;
      while (n < prev.length && n < groups.length && prev[n].index === indexOf(groups[n])) n++;
      return [m.id, prev.slice(0, n)] as const;
    }),
  );
  const total = groups.length * hModels.length;
  let done = [...kept.values()].reduce((a, r) => a + r.length, 0);
  if (resume.onPlan) {
    // one Hv product of the first spectrum to compute, timed: the ETA's unit
    const m = hModels.find((x) => kept.get(x.id)!.length < groups.length);
    let secs = 0;
    if (m) {
      const group = groups[kept.get(m.id)!.length];
      const batches: HessianBatch[] = group.map((e) => ({
        batch: makeBatch(e),
        labels: m.config.num_labels === 1 ? tf.tensor1d([e.label], 'float32') : tf.tensor1d([e.label], 'int32'),
      }));
      const h = new BertHessian({
        params: m.params,
        config: m.config,
        batches,
        quant: m.quant,
        l2,
        normMin,
        subset: subset ?? undefined,
      });
      const v = h.shapes.map((sh, i) => tf.randomNormal(sh, 0, 1, 'float32', hs.seed + i));
      const t0 = performance.now();
      const hv = h.hv(v);
      await Promise.all(hv.map((x) => x.data()));
      secs = (performance.now() - t0) / 1000;
      tf.dispose([...v, ...hv]);
      h.dispose();
      for (const b of batches) tf.dispose([b.batch.inputIds, b.batch.tokenTypeIds, b.batch.attentionMask, b.labels]);
    }
    const perSpectrum =
      (hs.method === 'power' ? hs.topN * hs.maxIter : hs.maxIter) +
      (hs.trace ? 100 : 0) +
      (hs.layers ? hs.maxIter * layerSubsets(hModels[0].config).length : 0);
    resume.onPlan(total - done, total, perSpectrum, secs);
  }
  for (const m of hModels) {
    const rows: HessianRow[] = [...kept.get(m.id)!];
    res.models[m.id] = { perExample: rows };
    for (const group of groups.slice(rows.length)) {
      await new Promise((r) => setImmediate(r)); // let a signal (Ctrl-C) through between spectra
      if (resume.shouldStop?.()) throw new AnalysisStopped(`after ${done} of ${total} Hessian spectra`);
      const t0 = performance.now();
      const batches: HessianBatch[] = group.map((e) => ({
        batch: makeBatch(e),
        labels: m.config.num_labels === 1 ? tf.tensor1d([e.label], 'float32') : tf.tensor1d([e.label], 'int32'),
      }));
      const setup = {
        params: m.params,
        config: m.config,
        batches,
        quant: m.quant,
        l2,
        normMin,
        subset: subset ?? undefined,
      };
      const h = new BertHessian(setup);
      const row: HessianRow = {
        index: group.length === 1 ? group[0].index : 'dataset',
        eigenvalues: [],
        iterations: [],
        converged: [],
        l2Terms: [],
        seconds: 0,
      };
      if (hs.method === 'power') {
        const r = h.eigenvalues({ topN: hs.topN, maxIter: hs.maxIter, tol: hs.tol, seed: hs.seed });
        tf.dispose(r.eigenvectors.flat());
        Object.assign(row, { eigenvalues: r.eigenvalues, iterations: r.iterations, converged: r.converged });
      } else {
        const r = lanczos(h.hv, h.shapes, { maxSteps: hs.maxIter, tol: hs.tol, stableK: hs.topN, seed: hs.seed });
        row.eigenvalues = topByMagnitude(r.ritz, hs.topN);
        row.iterations = [r.steps];
        row.converged = [r.steps < hs.maxIter];
      }
      row.l2Terms = row.eigenvalues.map((e) => matchNormTerm(e, termsOf.get(m.id)!));
      if (hs.trace) row.trace = h.trace({ seed: hs.seed }).trace;
      h.dispose();
      if (hs.layers) {
        row.layers = {};
        for (const s of layerSubsets(m.config)) {
          const hl = new BertHessian({ ...setup, subset: s.re });
          const rl = hl.eigenvalues({ topN: 1, maxIter: hs.maxIter, tol: hs.tol, seed: hs.seed });
          tf.dispose(rl.eigenvectors.flat());
          hl.dispose();
          row.layers[s.name] = rl.eigenvalues[0];
        }
      }
      row.seconds = (performance.now() - t0) / 1000;
      rows.push(row);
      for (const b of batches) tf.dispose([b.batch.inputIds, b.batch.tokenTypeIds, b.batch.attentionMask, b.labels]);
      resume.onRow?.(m.id, rows);
      const top = row.eigenvalues.map((v, i) => `${v.toPrecision(4)}${row.l2Terms[i] ? '*' : ''}`).join(', ');
      const products = row.iterations.reduce((a, c) => a + c, 0);
      onDone(++done, total, `hessian: ${m.label} top ${top} (${products} Hv, ${row.seconds.toFixed(1)} s)`);
    }
  }
  return res;
}
