/**
 * The norm-based analysis's running sums over the examples (per-head grids, per-class |teacher - student|) and its
 * result, from the per-example values of src/analysis/norm-analysis.ts.
 */
import { exampleNorms, firstIndexOf, TOKEN_CLASSES, type ExampleNorms, type TokenClass } from '../norm-analysis.js';
import type { TokenClassIds } from '../norm-analysis.js';
import { GridStat } from '../grid-stat.js';
import type { Accumulator, ForwardContext } from '../types.js';

export interface NormsSettings {
  /** W_O of the students' norms: the latent (reference) or the quantized weights */
  wo: 'latent' | 'quantized';
  /** the token of the per-head values: the first [SEP] or a position */
  token: 'sep' | number;
  /** ids of the token classes (from the tokenizer) */
  classIds: TokenClassIds;
}

type Grids = { prob: number[][]; fx: number[][]; afx: number[][] };
type ClassDiff = { alpha: (number | null)[]; fx: (number | null)[]; sumAfx: (number | null)[] };

export interface NormsResult {
  token: 'sep' | number;
  wo: string;
  examplesUsed: number;
  heads: Record<string, Grids>;
  headDiffs: Record<string, Grids>;
  classDiffs: Record<string, Record<TokenClass, ClassDiff>>;
}

const QUANTITIES = ['alpha', 'fx', 'sumAfx'] as const;
const absDiff = (a: number[][], c: number[][]) => a.map((r, i) => r.map((x, j) => Math.abs(x - c[i][j])));
const gridStats = () => [new GridStat(), new GridStat(), new GridStat()];
const means = (s: GridStat[]): Grids => ({ prob: s[0].stat().mean, fx: s[1].stat().mean, afx: s[2].stat().mean });

export function startNorms(ctx: ForwardContext, s: NormsSettings): Accumulator<NormsResult> {
  const models = [ctx.teacher, ...ctx.models.filter((m) => m.role === 'student')];
  const tokenOf = (ids: Int32Array) => (s.token === 'sep' ? firstIndexOf(ids, s.classIds.sep) : s.token);
  const used = (ids: Int32Array) => tokenOf(ids) >= 0 && tokenOf(ids) < ids.length;
  const headSums = new Map<string, GridStat[]>(); // per model: prob, fx, afx
  const headDiffSums = new Map<string, GridStat[]>();
  const classAcc = new Map<string, Record<TokenClass, { s: number[][]; c: number[][] }>>(); // [quantity][layer]
  let examplesUsed = 0;
  return {
    normsFor: (m, e) => (used(e.ids) && m.role !== 'quantized' ? s.wo : undefined),
    async add(_k, e, outs) {
      if (!used(e.ids)) return;
      const per = new Map<string, ExampleNorms>();
      for (const m of models) {
        const out = outs.get(m.id)!;
        per.set(m.id, await exampleNorms(out.probs, out.norms!, e.ids, tokenOf(e.ids), s.classIds));
      }
      const t = per.get(ctx.teacher.id)!;
      for (const m of models) {
        const v = per.get(m.id)!;
        if (!headSums.has(m.id)) headSums.set(m.id, gridStats());
        const hs = headSums.get(m.id)!;
        hs[0].add(v.heads.prob);
        hs[1].add(v.heads.fx);
        hs[2].add(v.heads.afx);
        if (m.role !== 'student') continue;
        if (!headDiffSums.has(m.id)) headDiffSums.set(m.id, gridStats());
        const hd = headDiffSums.get(m.id)!;
        hd[0].add(absDiff(t.heads.prob, v.heads.prob));
        hd[1].add(absDiff(t.heads.fx, v.heads.fx));
        hd[2].add(absDiff(t.heads.afx, v.heads.afx));
        if (!classAcc.has(m.id))
          classAcc.set(
            m.id,
            Object.fromEntries(
              TOKEN_CLASSES.map((c) => [c, { s: [[], [], []], c: [[], [], []] }]),
            ) as unknown as Record<TokenClass, { s: number[][]; c: number[][] }>,
          );
        const ca = classAcc.get(m.id)!;
        for (const c of TOKEN_CLASSES)
          QUANTITIES.forEach((q, qi) =>
            t.classes[c][q].forEach((tv, l) => {
              const sv = v.classes[c][q][l];
              if (!Number.isFinite(tv) || !Number.isFinite(sv)) return; // class absent from this example
              ca[c].s[qi][l] = (ca[c].s[qi][l] ?? 0) + Math.abs(tv - sv);
              ca[c].c[qi][l] = (ca[c].c[qi][l] ?? 0) + 1;
            }),
          );
      }
      examplesUsed++;
    },
    finish() {
      if (!examplesUsed) {
        const what = s.token === 'sep' ? `[SEP] (id ${s.classIds.sep})` : `#${s.token}`;
        ctx.log(`norms: no example contains the token ${what}; nothing to report`);
      }
      const classDiff = (ca: Record<TokenClass, { s: number[][]; c: number[][] }>, c: TokenClass) =>
        Object.fromEntries(
          QUANTITIES.map((q, qi) => [q, ca[c].s[qi].map((x, l) => (ca[c].c[qi][l] ? x / ca[c].c[qi][l] : null))]),
        ) as ClassDiff;
      return {
        token: s.token,
        wo: s.wo,
        examplesUsed,
        heads: Object.fromEntries([...headSums].map(([id, st]) => [id, means(st)])),
        headDiffs: Object.fromEntries([...headDiffSums].map(([id, st]) => [id, means(st)])),
        classDiffs: Object.fromEntries(
          [...classAcc].map(([id, ca]) => [
            id,
            Object.fromEntries(TOKEN_CLASSES.map((c) => [c, classDiff(ca, c)])) as Record<TokenClass, ClassDiff>,
          ]),
        ),
      };
    },
  };
}
