/**
 * A user's own tfjs training loop that distils a ternary BERT student from its full-precision teacher with the
 * kdqat library API and its hooks, then saves it to one safetensors file.
 *
 *   npx tsx --conditions=kdqat-source examples/distil-loop.ts <fixture set>/models/tiny-cls [steps] [out.safetensors]
 *
 * (a Hugging Face BERT directory plus an inputs.safetensors batch, as in the fixture folders). `distil` is the
 * part to copy: it takes any teacher and any list of batches. It imports only the package entry, 'kdqat': in this
 * repository the condition kdqat-source resolves it to src/api/index.ts; an installed package resolves it to the
 * built dist/ (test/package.test.ts compiles this file against the packed package and runs it with plain node).
 */
import * as tf from '@tensorflow/tfjs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  prepareCompression,
  kdStep,
  save,
  BertAdam,
  ADAM_DEFAULTS,
  loadBertDir,
  readSafetensors,
  initBackend,
  type BertConfig,
  type Params,
  type StepInputs,
} from 'kdqat';

export async function distil(
  model: BertConfig,
  teacher: Params,
  batches: StepInputs[],
  steps: number,
  out: string,
): Promise<number[]> {
  const kd = prepareCompression({
    model,
    student: teacher,
    teacher,
    quant: { weightBits: 2 },
    kd: { preset: 'map+output' },
    seed: 42,
  });
  const opt = new BertAdam({ ...ADAM_DEFAULTS, lr: 5e-3, tTotal: steps });
  const losses: number[] = [];
  kd.onTrainBegin({ totalSteps: steps });
  kd.onEpochBegin(0);
  for (let step = 0; step < steps; step++) {
    const inputs = batches[step % batches.length];
    kd.onStepBegin(step); // this step's dropout seeds
    // teacher forward, student forward (ternary weights, 8-bit activations, STE), KD loss, gradients, update
    losses.push((await kdStep({ handle: kd, optimizer: opt }, inputs)).loss);
  }
  kd.onEpochEnd(0);
  kd.onTrainEnd();
  await save(kd, out);
  opt.dispose();
  kd.dispose();
  return losses;
}

/** the batch of a fixture folder's inputs.safetensors */
export function fixtureBatch(dir: string, regression: boolean): StepInputs {
  const t = readSafetensors(join(dir, 'inputs.safetensors')).tensors;
  const get = (k: string) => t.get(k)!;
  const int2 = (k: string) => tf.tensor2d(Int32Array.from(get(k).data), get(k).shape as [number, number], 'int32');
  return {
    batch: { inputIds: int2('input_ids'), tokenTypeIds: int2('token_type_ids'), attentionMask: int2('attention_mask') },
    kd: {
      labels: regression
        ? tf.tensor1d(Float32Array.from(get('labels').data))
        : tf.tensor1d(Int32Array.from(get('labels').data), 'int32'),
      seqLengths: tf.tensor1d(Int32Array.from(get('seq_lengths').data), 'int32'),
    },
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [dir, steps = '20', out = 'student.safetensors'] = process.argv.slice(2);
  if (!dir) {
    console.error('usage: distil-loop <teacher dir with inputs.safetensors> [steps] [out.safetensors]');
    process.exit(2);
  }
  await initBackend(undefined, { quiet: true });
  const t = loadBertDir(dir);
  const losses = await distil(t.config, t.params, [fixtureBatch(dir, t.config.num_labels === 1)], Number(steps), out);
  console.log(
    `KD loss ${losses[0].toFixed(4)} -> ${losses[losses.length - 1].toFixed(4)} in ${losses.length} steps; student ` +
      `saved to ${out}`,
  );
}
