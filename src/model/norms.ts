/**
 * Kobayashi et al. (EMNLP 2020) norm-based attention analysis, as the reference's BertNormOutput computes it:
 * f^h(x_j) = v^h_j W_O^h (no b_O), ||f||, ||alpha f||, ||sum_h alpha f||.
 */
import * as tf from '@tensorflow/tfjs';

export interface LayerNorms {
  fx: tf.Tensor3D; // [B,H,T]    ||f^h(x_j)||
  afx: tf.Tensor4D; // [B,H,T,T]  ||alpha^h_ij f^h(x_j)|| = alpha^h_ij ||f^h(x_j)||
  sumAfx: tf.Tensor3D; // [B,T,T]    ||sum_h alpha^h_ij f^h(x_j)||
}

/** probs [B,H,T,T], v [B,H,T,dh], wo [D,D] (torch [out,in]; head h uses input columns h*dh..(h+1)*dh). */
export function kobayashiNorms(probs: tf.Tensor4D, v: tf.Tensor, wo: tf.Tensor): LayerNorms {
  const [B, H, T, dh] = v.shape as [number, number, number, number];
  const D = wo.shape[0];
  // W_O^h as [H, dh, D]: wo [D, H*dh] -> [D, H, dh] -> [H, dh, D]
  const woh = tf.transpose(tf.reshape(wo, [D, H, dh]), [1, 2, 0]);
  // f[b,h,j,:] = v[b,h,j,:] @ W_O^h  -> [B,H,T,D]
  const f = tf.transpose(
    tf.matMul(tf.transpose(v, [1, 0, 2, 3]).reshape([H, B * T, dh]), woh).reshape([H, B, T, D]),
    [1, 0, 2, 3],
  );
  const fx = tf.norm(f, 'euclidean', -1) as tf.Tensor3D;
  const afx = tf.mul(probs, tf.reshape(fx, [B, H, 1, T])) as tf.Tensor4D;
  // sum_h alpha[b,h,i,j] f[b,h,j,:] -> [B,T,T,D]; computed per b,j as (alpha^T over h) @ f
  const a = tf.transpose(probs, [0, 3, 2, 1]); // [B,j,i,h]
  const fj = tf.transpose(f, [0, 2, 1, 3]); // [B,j,h,D]
  const s = tf.matMul(a.reshape([B * T, T, H]), fj.reshape([B * T, H, D])); // [B*j, i, D]
  const sumAfx = tf.transpose(tf.norm(s, 'euclidean', -1).reshape([B, T, T]), [0, 2, 1]) as tf.Tensor3D; // [B,i,j]
  return { fx, afx, sumAfx };
}
