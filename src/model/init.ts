/** From-scratch initialisation as Hugging Face BertPreTrainedModel._init_weights: N(0, initializer_range) for
 * Linear and Embedding weights, zero biases, LayerNorm weight 1 / bias 0. Deterministic in `seed`. */
import * as tf from '@tensorflow/tfjs';
import type { BertConfig } from './config.js';
import { paramShapes } from './bert.js';

export function initParams(c: BertConfig, seed: number): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  let i = 0;
  for (const [name, shape] of Object.entries(paramShapes(c))) {
    i++;
    if (name.includes('LayerNorm')) out[name] = name.endsWith('.weight') ? tf.ones(shape) : tf.zeros(shape);
    else if (name.endsWith('.bias')) out[name] = tf.zeros(shape);
    else out[name] = tf.randomNormal(shape, 0, c.initializer_range, 'float32', seed * 1000 + i);
  }
  return out;
}
