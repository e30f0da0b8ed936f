import test from 'ava';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KD_FLAGS, parseFlags, RUN_FLAGS, runConfigFromFlags, runConfigFromJson } from '../src/cli/common.js';
import { resolveRunConfig } from '../src/train/config.js';
import { GLUE_DIR } from './helpers/env.js';

const FLAGS = { ...RUN_FLAGS, ...KD_FLAGS };
const flags = (argv: string[]) => parseFlags(FLAGS, 'npm run qat -- [...]', argv);

/** one configuration, said three ways */
const options = {
  task: 'mrpc',
  seed: 7,
  teacher: 'models/tiny/mrpc',
  data: { glueDir: GLUE_DIR, trainLimit: 64, batchSize: 8 },
  train: { epochs: 2, maxSteps: 6, lr: 1e-3 },
  kd: { preset: 'map', mapCoeff: 0.5, coeffs: { gt: 1 } },
  quant: { weightBits: 4 },
};
const argv = [
  ...['--task', 'MRPC', '--seed', '7', '--data-dir', GLUE_DIR, '--train-limit', '64', '--batch-size', '8'],
  ...['--epochs', '2', '--max-steps', '6', '--lr', '1e-3', '--preset', 'map', '--map-coeff', '0.5'],
  ...['--coeffs', 'gt=1', '--weight-bits', '4'],
];

test('flags, a --config file, --config-json and API options resolve to the same configuration', (t) => {
  const api = resolveRunConfig(options);
  const fromFlags = runConfigFromFlags(flags(argv), { teacher: options.teacher });
  const dir = mkdtempSync(join(tmpdir(), 'kdqat-config-'));
  const file = join(dir, 'run.json');
  writeFileSync(file, JSON.stringify(options));
  const fromFile = runConfigFromFlags(flags(['--config', file]));
  t.deepEqual(fromFlags, api);
  t.deepEqual(fromFile, api);
  t.deepEqual(runConfigFromJson(JSON.stringify(api)), api);
  // the task defaults are applied once, at the boundary: the length of MRPC, the evaluation interval of MRPC
  t.is(typeof api.data.maxSeqLen, 'number');
  t.is(typeof api.train.evalEvery, 'number');
  // a flag wins over the file, key by key (the rest of the file's section is kept)
  const mixed = runConfigFromFlags(flags(['--config', file, '--map-coeff', '2']));
  t.is(mixed.kd.mapCoeff, 2);
  t.is(mixed.kd.preset, 'map');
});

test('a bad key fails naming it, in API options and in a config file (named too)', (t) => {
  t.throws(() => resolveRunConfig({ train: { lrr: 1 } }), {
    message: /unknown config key "train\.lrr"; did you mean train\.lr\?/,
  });
  t.throws(() => resolveRunConfig({ kd: { balancer: { kind: 'uncertainty', rate: 1 } } }), {
    message: /unknown config key "kd\.balancer\.rate" for kind uncertainty/,
  });
  const dir = mkdtempSync(join(tmpdir(), 'kdqat-config-'));
  const file = join(dir, 'bad.json');
  writeFileSync(file, JSON.stringify({ data: { batchSize: 0 } }));
  t.throws(() => runConfigFromFlags(flags(['--config', file])), {
    message: new RegExp(`--config ${file}: config key "data\\.batchSize" must be a positive integer, got 0`),
  });
});
