/**
 * A recorded function whose vector-Jacobian product can be taken many times: PyTorch's
 * `torch.autograd.grad(ys, xs, grad_outputs=v, retain_graph=True)`, which PyHessian (and the reference's Hessian
 * analysis) use to compute every Hessian-vector product of a power iteration from one forward and one first
 * backward pass. tfjs has no public API for it (tf.grads records, differentiates and frees the tape in one call),
 * so this class drives the engine's tape directly: startTape/endTape, the recorded nodes (kernel, inputs,
 * outputs, gradient closure over tensors the engine keeps for backward) and the same reverse walk as tfjs's
 * backpropagateGradients (tfjs-core's tape.ts), restricted to the nodes between xs and y. The tape's saved tensors are
 * kept until `dispose`.
 *
 *   const g = new RetainedGraph(xs, () => y);   // y = f(xs), any tensor; f may itself call tf.grads
 *   g.vjp(dy)                                   // [dy^T dy/dx for x in xs], same shapes as xs; repeatable
 */
import * as tf from '@tensorflow/tfjs';

interface TapeNode {
  id: number;
  kernelName: string;
  inputs: Record<string, tf.Tensor>;
  outputs: tf.Tensor[];
  gradient?: (dys: (tf.Tensor | null)[]) => Record<string, () => tf.Tensor>;
  saved?: tf.Tensor[];
}
interface EngineTape {
  startTape(): void;
  endTape(): void;
  state: { activeTape: TapeNode[] | null; gradientDepth: number };
}

export class RetainedGraph {
  private readonly nodes: TapeNode[];
  private readonly all: TapeNode[];
  readonly y: tf.Tensor;

  constructor(
    private readonly xs: tf.Tensor[],
    f: () => tf.Tensor,
  ) {
    const eng = tf.engine() as unknown as EngineTape;
    if (eng.state.gradientDepth !== 0) throw new Error('RetainedGraph: cannot be recorded inside another gradient');
    eng.startTape();
    let y: tf.Tensor;
    try {
      y = tf.tidy(f);
    } finally {
      eng.endTape();
    }
    this.all = eng.state.activeTape ?? [];
    eng.state.activeTape = null;
    this.y = tf.keep(y);
    this.nodes = between(this.all, xs, y);
    if (!this.nodes.length) throw new Error('RetainedGraph: y does not depend on xs');
  }

  /** dy [y.shape] -> dy^T (dy / dx) for each x (zeros where y does not depend on x) */
  vjp(dy: tf.Tensor): tf.Tensor[] {
    if (!tf.util.arraysEqual(dy.shape, this.y.shape))
      throw new Error(`RetainedGraph.vjp: dy [${dy.shape}] does not match y [${this.y.shape}]`);
    return tf.tidy(() => {
      const acc = new Map<number, tf.Tensor>([[this.y.id, dy]]);
      for (let i = this.nodes.length - 1; i >= 0; i--) {
        const node = this.nodes[i];
        const dys = node.outputs.map((o) => acc.get(o.id) ?? null);
        if (dys.every((d) => d === null)) continue;
        if (!node.gradient) throw new Error(`RetainedGraph: no gradient for ${node.kernelName}`);
        const grads = node.gradient(dys);
        for (const [name, x] of Object.entries(node.inputs)) {
          const dx = tf.tidy(() => grads[name]());
          const prev = acc.get(x.id);
          acc.set(x.id, prev ? tf.add(prev, dx) : dx);
        }
      }
      return this.xs.map((x) => acc.get(x.id) ?? tf.zerosLike(x));
    });
  }

  dispose(): void {
    for (const node of this.all) for (const t of node.saved ?? []) t.dispose();
    this.y.dispose();
  }
}

/** the nodes on a path from some x to y, in tape order, each with only its inputs that depend on xs (tfjs's
 * getFilteredNodesXToY) */
function between(tape: TapeNode[], xs: tf.Tensor[], y: tf.Tensor): TapeNode[] {
  const fromX = new Set(xs.map((x) => x.id));
  const nodeFromX = new Set<number>();
  for (const node of tape) {
    if (Object.values(node.inputs).some((t) => fromX.has(t.id))) {
      node.outputs.forEach((o) => fromX.add(o.id));
      nodeFromX.add(node.id);
    }
  }
  const toY = new Set([y.id]);
  const nodeToY = new Set<number>();
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i];
    if (node.outputs.some((o) => toY.has(o.id))) {
      Object.values(node.inputs).forEach((t) => toY.add(t.id));
      nodeToY.add(node.id);
    }
  }
  return tape
    .filter((n) => nodeFromX.has(n.id) && nodeToY.has(n.id))
    .map((n) => ({
      ...n,
      inputs: Object.fromEntries(Object.entries(n.inputs).filter(([, t]) => fromX.has(t.id))),
    }));
}
