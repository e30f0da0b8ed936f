/**
 * BERT for sequence classification / regression: post-LayerNorm, erf GELU, additive -10000 mask, exactly as the
 * reference's transformer/modeling.py (teacher) and modeling_quant.py (student, when `quant` hooks are given).
 *
 * Parameters are a flat record keyed by Hugging Face names ("bert.encoder.layer.0.attention.self.query.weight"),
 * Linear weights [out, in] as in PyTorch. The forward is a pure function of (params, batch), so the same code
 * serves training (tf.variableGrads), exact Hessian-vector products (tf.grads of tf.grads) and analysis.
 *
 * Notation: B batch, T padded length, D hidden, H heads, dh = D/H, F intermediate, C labels, L layers.
 */
import * as tf from '@tensorflow/tfjs';
import type { BertConfig } from './config.js';
import { kobayashiNorms, type LayerNorms } from './norms.js';

export type Params = Record<string, tf.Tensor>;

export interface Batch {
  inputIds: tf.Tensor2D; // [B,T] int32
  tokenTypeIds: tf.Tensor2D; // [B,T] int32
  attentionMask: tf.Tensor2D; // [B,T] int32/float 1 = token, 0 = padding
}

/** Student hooks: weight quantizer by parameter name, activation quantizer by quantization-point name. */
export interface QuantHooks {
  weight(name: string, w: tf.Tensor): tf.Tensor;
  act(point: string, x: tf.Tensor): tf.Tensor;
  /** Q_a(a) @ op(Q_b(b)) where a, b are quantized as points/parameters pa, pb (op = transpose if transposeB) */
  matmul(pa: string, a: tf.Tensor, pb: string, b: tf.Tensor, transposeB: boolean): tf.Tensor;
  /** true when parameter `name` is quantized row by row: Q(W)[ids] = Q(W[ids]), so only looked-up rows need it */
  perRow?(name: string): boolean;
}

export interface ForwardOptions {
  training?: boolean;
  /** student quantizers; undefined = full-precision teacher */
  quant?: QuantHooks;
  /** seed source for dropout masks (training only); called once per dropout site, in a fixed order */
  nextSeed?: () => number;
  /** also compute Kobayashi norms (analysis): 'latent' uses the FP W_O (the reference), 'quantized' the ternary one */
  norms?: 'latent' | 'quantized';
  /** the looked-up word-embedding rows W[ids] [B,T,D], given instead of taken from W (exact Hessian-vector products
   * differentiate the loss with respect to them: a [B*T,D] gradient instead of a dense [V,D] one) */
  wordRows?: tf.Tensor;
}

export interface BertOutputs {
  logits: tf.Tensor2D; // [B,C]
  hidden: tf.Tensor3D[]; // L+1 x [B,T,D]; 0 = embedding output
  scores: tf.Tensor4D[]; // L x [B,H,T,T] scaled QK^T + mask
  probs: tf.Tensor4D[]; // L x [B,H,T,T] softmax before dropout/quantization
  context: tf.Tensor4D[]; // L x [B,H,T,dh] per-head context
  attnOutput: tf.Tensor3D[]; // L x [B,T,D] LN(dropout(W_O ctx + b_O) + X)
  saOutput: tf.Tensor3D[]; // L x [B,T,D] W_O ctx + b_O
  norms?: LayerNorms[]; // L x Kobayashi norms
}

/** Names and shapes of every parameter of a BertForSequenceClassification with config c. */
export function paramShapes(c: BertConfig): Record<string, number[]> {
  const D = c.hidden_size,
    F = c.intermediate_size;
  const s: Record<string, number[]> = {
    'bert.embeddings.word_embeddings.weight': [c.vocab_size, D],
    'bert.embeddings.position_embeddings.weight': [c.max_position_embeddings, D],
    'bert.embeddings.token_type_embeddings.weight': [c.type_vocab_size, D],
    'bert.embeddings.LayerNorm.weight': [D],
    'bert.embeddings.LayerNorm.bias': [D],
  };
  const lin = (name: string, out: number, inp: number) => {
    s[`${name}.weight`] = [out, inp];
    s[`${name}.bias`] = [out];
  };
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const p = `bert.encoder.layer.${l}`;
    for (const m of ['query', 'key', 'value']) lin(`${p}.attention.self.${m}`, D, D);
    lin(`${p}.attention.output.dense`, D, D);
    s[`${p}.attention.output.LayerNorm.weight`] = [D];
    s[`${p}.attention.output.LayerNorm.bias`] = [D];
    lin(`${p}.intermediate.dense`, F, D);
    lin(`${p}.output.dense`, D, F);
    s[`${p}.output.LayerNorm.weight`] = [D];
    s[`${p}.output.LayerNorm.bias`] = [D];
  }
  lin('bert.pooler.dense', D, D);
  lin('classifier', c.num_labels, D);
  return s;
}

/** LayerNorm over the last axis: (x - mean) / sqrt(var + eps) * g + b, biased variance as torch. */
export function layerNorm(x: tf.Tensor, g: tf.Tensor, b: tf.Tensor, eps: number): tf.Tensor {
  const mean = tf.mean(x, -1, true);
  const xc = tf.sub(x, mean);
  const v = tf.mean(tf.mul(xc, xc), -1, true);
  return tf.add(tf.mul(tf.mul(xc, tf.rsqrt(tf.add(v, eps))), g), b);
}

/** erf GELU: x * 0.5 * (1 + erf(x / sqrt(2))), in the reference's operation order (division, not x * 1/sqrt 2). */
export function gelu(x: tf.Tensor): tf.Tensor {
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.div(x, Math.SQRT2)), 1));
}

/** 1 where ids[..] != pad, else 0 (float32, ids' shape): the positions whose looked-up rows get a gradient */
export const nonPadMask = (ids: tf.Tensor, pad: number): tf.Tensor => tf.cast(tf.notEqual(ids, pad), 'float32');

/**
 * word-embedding lookup W[ids] ; W [V,D], ids [B,T] -> [B,T,D]. As torch's nn.Embedding(padding_idx=pad), the row
 * `pad` receives no gradient (Hugging Face and the reference both set padding_idx = 0).
 */
export function embeddingLookup(w: tf.Tensor, ids: tf.Tensor, pad: number): tf.Tensor {
  const f = tf.customGrad(((table: tf.Tensor, idx: tf.Tensor, save: tf.GradSaveFunc) => {
    save([idx]);
    return {
      value: tf.gather(table, idx),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const flat = saved[0].reshape([-1]);
        const keep = nonPadMask(flat, pad).reshape([-1, 1]);
        const g = tf.unsortedSegmentSum(
          tf.mul(dy.reshape([-1, table.shape[1]!]), keep),
          flat as tf.Tensor1D,
          table.shape[0],
        );
        return [g, tf.zerosLike(saved[0])];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return (f as unknown as (a: tf.Tensor, b: tf.Tensor) => tf.Tensor)(w, ids);
}

/**
 * Run the model. Returns every per-layer tensor the KD losses and analyses use (see BertOutputs).
 * Call inside tf.tidy (or a gradient function); nothing is disposed here.
 */
export function bertForward(params: Params, c: BertConfig, batch: Batch, opts: ForwardOptions = {}): BertOutputs {
  const { quant, training = false } = opts;
  const [B, T] = batch.inputIds.shape;
  const D = c.hidden_size,
    H = c.num_attention_heads,
    dh = D / H;
  const P = (name: string): tf.Tensor => {
    const t = params[name];
    if (!t) throw new Error(`bertForward: parameter "${name}" is missing`);
    return t;
  };
  const W_ = (name: string, w: tf.Tensor): tf.Tensor => (quant ? quant.weight(name, w) : w);
  const W = (name: string): tf.Tensor => W_(name, P(name));
  const A = (point: string, x: tf.Tensor): tf.Tensor => (quant ? quant.act(point, x) : x);
  const dropout = (x: tf.Tensor, rate: number): tf.Tensor =>
    training && rate > 0 ? tf.dropout(x, rate, undefined, opts.nextSeed ? opts.nextSeed() : undefined) : x;
  /** a @ op(b), both quantized in the student (points pa, pb) */
  const mm = (pa: string, a: tf.Tensor, pb: string, b: tf.Tensor, transposeB: boolean): tf.Tensor =>
    quant ? quant.matmul(pa, a, pb, b, transposeB) : tf.matMul(a, b, false, transposeB);
  /** quantized linear: A(x) [N,in] @ Q(W)^T [in,out] + b, for x [...,in] */
  const linear = (name: string, x: tf.Tensor): tf.Tensor => {
    const inDim = x.shape[x.shape.length - 1]!;
    const x2 = tf.reshape(x, [-1, inDim]);
    const y = tf.add(mm(`${name}.input`, x2, `${name}.weight`, P(`${name}.weight`), true), P(`${name}.bias`));
    return tf.reshape(y, [...x.shape.slice(0, -1), y.shape[1]!]);
  };
  const heads = (x: tf.Tensor): tf.Tensor4D => tf.transpose(tf.reshape(x, [B, T, H, dh]), [0, 2, 1, 3]); // [B,T,D] -> [B,H,T,dh]

  // embeddings: LN(word[ids] + pos[0..T) + type[tt]), then dropout
  // a per-row quantizer commutes with the lookup: quantize the B*T looked-up rows, not the whole [V,D] table
  const WORD = 'bert.embeddings.word_embeddings.weight',
    pad = c.pad_token_id ?? 0;
  const rowwise = !quant || quant.perRow?.(WORD) === true;
  if (opts.wordRows && !rowwise)
    throw new Error('bertForward: wordRows needs a per-row word-embedding quantizer (or none)');
  const words = opts.wordRows
    ? W_(WORD, opts.wordRows)
    : rowwise
      ? W_(WORD, embeddingLookup(P(WORD), batch.inputIds, pad))
      : embeddingLookup(W(WORD), batch.inputIds, pad);
  const pos = tf.slice(P('bert.embeddings.position_embeddings.weight'), [0, 0], [T, D]);
  const emb = tf.add(
    tf.add(words, pos),
    tf.gather(P('bert.embeddings.token_type_embeddings.weight'), batch.tokenTypeIds),
  );
  let x = dropout(
    layerNorm(emb, P('bert.embeddings.LayerNorm.weight'), P('bert.embeddings.LayerNorm.bias'), c.layer_norm_eps),
    c.hidden_dropout_prob,
  ) as tf.Tensor3D;

  // extended mask (1 - m) * -10000, [B,1,1,T]
  const maskAdd = tf.reshape(tf.mul(tf.sub(1, tf.cast(batch.attentionMask, 'float32')), -10000), [B, 1, 1, T]);
  const out: BertOutputs = {
    logits: undefined as unknown as tf.Tensor2D,
    hidden: [x],
    scores: [],
    probs: [],
    context: [],
    attnOutput: [],
    saOutput: [],
  };
  if (opts.norms) out.norms = [];

  for (let l = 0; l < c.num_hidden_layers; l++) {
    const p = `bert.encoder.layer.${l}`;
    const sp = `${p}.attention.self`;
    const q = heads(linear(`${sp}.query`, x));
    const k = heads(linear(`${sp}.key`, x));
    const v = heads(linear(`${sp}.value`, x));
    // [B,H,T,T] A(Q) A(K)^T / sqrt(dh) + mask
    const scores = tf.add(
      tf.div(mm(`${sp}.query_layer`, q, `${sp}.key_layer`, k, true), Math.sqrt(dh)),
      maskAdd,
    ) as tf.Tensor4D;
    const probs = tf.softmax(scores) as tf.Tensor4D;
    // [B,H,T,dh] A(dropout(P)) A(V)
    const ctx = mm(
      `${sp}.attention_probs`,
      dropout(probs, c.attention_probs_dropout_prob),
      `${sp}.value_layer`,
      v,
      false,
    ) as tf.Tensor4D;
    const ctxFlat = tf.reshape(tf.transpose(ctx, [0, 2, 1, 3]), [B, T, D]);
    const sa = linear(`${p}.attention.output.dense`, ctxFlat) as tf.Tensor3D; // W_O ctx + b_O
    const attn = layerNorm(
      tf.add(dropout(sa, c.hidden_dropout_prob), x),
      P(`${p}.attention.output.LayerNorm.weight`),
      P(`${p}.attention.output.LayerNorm.bias`),
      c.layer_norm_eps,
    ) as tf.Tensor3D;
    const inter = gelu(linear(`${p}.intermediate.dense`, attn));
    const ffn = linear(`${p}.output.dense`, inter);
    x = layerNorm(
      tf.add(dropout(ffn, c.hidden_dropout_prob), attn),
      P(`${p}.output.LayerNorm.weight`),
      P(`${p}.output.LayerNorm.bias`),
      c.layer_norm_eps,
    ) as tf.Tensor3D;
    out.scores.push(scores);
    out.probs.push(probs);
    out.context.push(ctx);
    out.saOutput.push(sa);
    out.attnOutput.push(attn);
    out.hidden.push(x);
    if (opts.norms) {
      const wo =
        opts.norms === 'quantized' ? W(`${p}.attention.output.dense.weight`) : P(`${p}.attention.output.dense.weight`);
      out.norms!.push(kobayashiNorms(probs, A(`${sp}.value_layer`, v), wo));
    }
  }
  // pooler: tanh(A(h[:,0]) W_p^T + b_p), dropout, classifier (FP in the student: no quantizer rule names it; int8 in
  // a dynamically quantized model, src/export/ptq.ts)
  const cls = tf.reshape(tf.slice(x, [0, 0, 0], [B, 1, D]), [B, D]);
  const pooled = dropout(tf.tanh(linear('bert.pooler.dense', cls)), c.hidden_dropout_prob);
  out.logits = linear('classifier', pooled) as tf.Tensor2D;
  return out;
}
