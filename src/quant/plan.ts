/**
 * Which tensors get which quantizer: rules of (name pattern -> quantizer), first match wins, evaluated against
 * parameter names (weights) and quantization-point names (activations) of src/model/bert.ts:
 *   weights: "bert.encoder.layer.3.attention.self.query.weight", "bert.embeddings.word_embeddings.weight", ...
 *   activations: "<linear module>.input" (input of every quantized linear), and per layer
 *   "bert.encoder.layer.N.attention.self.{query_layer,key_layer,value_layer,attention_probs}".
 * The defaults are the reference's (docs/method.md §1.5 and §2).
 */
import type * as tf from '@tensorflow/tfjs';
import type { QuantHooks } from '../model/bert.js';
import * as tfn from '@tensorflow/tfjs';
import { makeQuantizerFromSpec, type Quantizer, type QuantizerSpec } from './quantizers.js';
import { exactQuantMatMul } from './exact-matmul.js';

export interface QuantRule {
  pattern: string;
  quantizer: QuantizerSpec;
}

export interface QuantConfig {
  /**
   * 2 = ternary TWN (the default of every script), 4 = TwnQuantizer_mx, 8 = symmetric; sets the default weight rules
   */
  weightBits: 2 | 4 | 8;
  /** activation bits of the default activation rules */
  actBits: number;
  /** the fixed clip value of every quantizer (the reference's clip_val buffers, 2.5) */
  clip: number;
  /** override the default rules entirely (null = derived from weightBits/actBits/clip) */
  weightRules: QuantRule[] | null;
  actRules: QuantRule[] | null;
}

export const QUANT_DEFAULTS: QuantConfig = { weightBits: 2, actBits: 8, clip: 2.5, weightRules: null, actRules: null };

const LINEAR =
  String.raw`bert\.(encoder\.layer\.\d+\.(attention\.self\.(query|key|value)|attention\.output\.dense|` +
  String.raw`intermediate\.dense|output\.dense)|pooler\.dense)`;
export const WORD_EMBEDDINGS = 'bert.embeddings.word_embeddings.weight';

export function weightRules(c: QuantConfig): QuantRule[] {
  if (c.weightRules) return c.weightRules;
  const clip = c.clip;
  const lin: QuantizerSpec =
    c.weightBits === 2
      ? { kind: 'twn', clip }
      : c.weightBits === 4
        ? { kind: 'twn-mx', bits: 4, clip }
        : { kind: 'sym', bits: 8, clip };
  const emb: QuantizerSpec =
    c.weightBits === 2
      ? { kind: 'twn', rowwise: true, clip }
      : { kind: 'twn-mx', bits: c.weightBits, rowwise: true, clip };
  return [
    { pattern: `^${LINEAR}\\.weight$`, quantizer: lin },
    { pattern: `^${WORD_EMBEDDINGS.replace(/\./g, '\\.')}$`, quantizer: emb },
  ];
}

export function actRules(c: QuantConfig): QuantRule[] {
  if (c.actRules) return c.actRules;
  const q: QuantizerSpec = { kind: 'sym', bits: c.actBits, clip: c.clip };
  return [
    { pattern: `^${LINEAR}\\.input$`, quantizer: q },
    {
      pattern:
        String.raw`^bert\.encoder\.layer\.\d+\.attention\.self\.` +
        '(query_layer|key_layer|value_layer|attention_probs)$',
      quantizer: q,
    },
  ];
}

export interface CompiledRule {
  rule: QuantRule;
  re: RegExp;
  q: Quantizer | null;
}

/** Rules with their patterns compiled and quantizers made (an invalid pattern is an error naming it). */
export function compileRules(rules: QuantRule[]): CompiledRule[] {
  return rules.map((rule) => {
    let re: RegExp;
    try {
      re = new RegExp(rule.pattern);
    } catch (e) {
      throw new Error(
        `quant rule pattern ${JSON.stringify(rule.pattern)} is not a valid regular expression: ${(e as Error).message}`,
      );
    }
    return { rule, re, q: makeQuantizerFromSpec(rule.quantizer) };
  });
}

/** first rule whose pattern matches name, or undefined */
export const firstMatch = (compiled: CompiledRule[], name: string): CompiledRule | undefined =>
  compiled.find((r) => r.re.test(name));

function resolver(rules: QuantRule[]): (name: string) => Quantizer | null {
  const compiled = compileRules(rules);
  const cache = new Map<string, Quantizer | null>();
  return (name) => {
    let q = cache.get(name);
    if (q === undefined) {
      q = firstMatch(compiled, name)?.q ?? null;
      cache.set(name, q);
    }
    return q;
  };
}

/**
 * The student's hooks for bertForward. An activation quantized at several points with the same quantizer
 * (the hidden state entering Q, K and V) is quantized once and reused: identical values, and the STE gradients
 * of the three uses add up exactly as they would for three separate quantizations.
 * `weightResolver` (weight quantizer by parameter name) replaces c's weight rules: an exported model whose weights
 * are already on their grid (src/export/packed-model.ts).
 */
export function makeQuantHooks(
  c: QuantConfig,
  weightResolver?: (name: string) => Quantizer | null,
): QuantHooks & { weightQuantizer(name: string): Quantizer | null; actQuantizer(point: string): Quantizer | null } {
  const wq = weightResolver ?? resolver(weightRules(c));
  const aq = resolver(actRules(c));
  const last = new Map<Quantizer, { x: tf.Tensor; y: tf.Tensor }>();
  const weight = (name: string, w: tf.Tensor) => {
    const q = wq(name);
    return q ? q.apply(w) : w;
  };
  const quantOf = (p: string) => (p.endsWith('.weight') ? wq(p) : aq(p));
  return {
    weightQuantizer: wq,
    actQuantizer: aq,
    weight,
    perRow: (name) => wq(name)?.rowwise === true,
    // both operands on per-tensor grids: exact integer product; otherwise quantize (or not) each and multiply
    matmul: (pa, a, pb, b, transposeB) => {
      const qa = quantOf(pa),
        qb = quantOf(pb);
      if (qa?.factor && qb?.factor) return exactQuantMatMul(a, qa, b, qb, transposeB);
      const one = (q: Quantizer | null, x: tf.Tensor) => (q ? q.apply(x) : x);
      return tfn.matMul(one(qa, a), one(qb, b), false, transposeB);
    },
    act: (point, x) => {
      const q = aq(point);
      if (!q) return x;
      const prev = last.get(q);
      if (prev && prev.x === x && !prev.y.isDisposed) return prev.y;
      const y = q.apply(x);
      last.set(q, { x, y });
      return y;
    },
  };
}
