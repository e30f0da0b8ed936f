/**
 * The suite's bad inputs: malformed GLUE rows and files, damaged teacher checkpoints, bad config files and flags. Each
 * runs a command as a user would, in a sandbox of its own (a copy of the bench's GLUE rows and teacher); it must
 * stop with exit status 2 and one message naming the file and line, the tensor, the key or the flag, print no
 * stack trace, and write nothing (the sandbox unchanged, the feature cache aside).
 */
import { cpSync, mkdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors, writeSafetensors, type WriteTensor } from '../util/safetensors.js';
import { runCli, snapshot, type Bench } from './harness.js';

interface Sandbox {
  dir: string;
  glue: string;
  teacher: string;
  out: string;
}
export interface BadInput {
  name: string;
  cmd: 'qat' | 'sweep';
  setup?: (s: Sandbox) => void;
  args?: (s: Sandbox) => string[];
  expect: RegExp;
}

/** Replace line `n` (1-based) of a GLUE file. */
const editLine = (file: string, n: number, f: (l: string) => string) => {
  const lines = readFileSync(file, 'utf8').split('\n');
  lines[n - 1] = f(lines[n - 1]);
  writeFileSync(file, lines.join('\n'));
};

/** Rewrite one tensor of the teacher's weights. */
const editTensor = (s: Sandbox, name: string, f: (t: WriteTensor) => WriteTensor) => {
  const path = join(s.teacher, 'model.safetensors');
  const file = readSafetensors(path);
  const out: Record<string, WriteTensor> = {};
  for (const [k, t] of file.tensors)
    out[k] =
      k === name ? f({ dtype: 'F32', shape: t.shape, data: t.data }) : { dtype: 'F32', shape: t.shape, data: t.data };
  writeSafetensors(path, out, file.metadata);
};

const configFile = (s: Sandbox, text: string) => {
  writeFileSync(join(s.dir, 'bad.json'), text);
  return ['--config', join(s.dir, 'bad.json')];
};

export const BAD_INPUTS: BadInput[] = [
  {
    name: 'TSV row with missing fields',
    cmd: 'qat',
    setup: (s) => editLine(join(s.glue, 'RTE', 'train.tsv'), 3, () => '2\tonly one sentence'),
    expect: /RTE\/train\.tsv:3: task rte \(train\): row has 2 tab-separated field\(s\), expected at least 4/,
  },
  {
    name: 'TSV row with an extra field',
    cmd: 'qat',
    setup: (s) => editLine(join(s.glue, 'RTE', 'train.tsv'), 4, (l) => `${l}\textra`),
    expect: /RTE\/train\.tsv:4: task rte \(train\): unknown label "extra"/,
  },
  {
    name: 'unknown label',
    cmd: 'qat',
    setup: (s) => editLine(join(s.glue, 'RTE', 'dev.tsv'), 2, (l) => l.replace(/\t[^\t]*$/, '\tmaybe')),
    expect: /RTE\/dev\.tsv:2: task rte \(dev\): unknown label "maybe"; allowed labels/,
  },
  {
    name: 'empty TSV file',
    cmd: 'qat',
    setup: (s) => writeFileSync(join(s.glue, 'RTE', 'train.tsv'), ''),
    expect: /RTE\/train\.tsv: task rte \(train\): file has no data rows/,
  },
  {
    name: 'invalid UTF-8',
    cmd: 'qat',
    setup: (s) => {
      const f = join(s.glue, 'RTE', 'train.tsv'),
        lines = readFileSync(f).toString('latin1').split('\n');
      lines[4] = lines[4].replace(' ', ' \xff\xfe ');
      writeFileSync(f, Buffer.from(lines.join('\n'), 'latin1'));
    },
    expect: /RTE\/train\.tsv:5: file is not valid UTF-8/,
  },
  {
    name: 'checkpoint tensor of a wrong shape',
    cmd: 'qat',
    setup: (s) =>
      editTensor(s, 'classifier.weight', (t) => ({
        ...t,
        shape: [t.shape[0] + 1, t.shape[1]],
        data: new Float32Array((t.shape[0] + 1) * t.shape[1]),
      })),
    expect: /model\.safetensors: tensor "classifier\.weight" has shape \[3,\d+\] but config\.json implies \[2,\d+\]/,
  },
  {
    name: 'checkpoint tensor of a wrong dtype',
    cmd: 'qat',
    setup: (s) =>
      editTensor(s, 'classifier.weight', (t) => ({ ...t, dtype: 'I32', data: Int32Array.from(t.data, () => 1) })),
    expect: /model\.safetensors: tensor "classifier\.weight" has integer dtype I32, expected a float/,
  },
  {
    name: 'truncated teacher checkpoint',
    cmd: 'qat',
    setup: (s) => {
      const f = join(s.teacher, 'model.safetensors');
      truncateSync(f, statSync(f).size >> 1);
    },
    expect: /model\.safetensors.*truncated/,
  },
  {
    name: 'config file with an unknown key',
    cmd: 'qat',
    args: (s) => configFile(s, '{"train": {"lrr": 0.001}}'),
    expect: /--config \S+bad\.json: unknown config key "train\.lrr"; did you mean train\.lr\?/,
  },
  {
    name: 'config file with a wrong type',
    cmd: 'qat',
    args: (s) => configFile(s, '{"train": {"epochs": "two"}}'),
    expect: /--config \S+bad\.json: config key "train\.epochs" must be .*got "two"/,
  },
  {
    name: 'config file that is not JSON',
    cmd: 'sweep',
    args: (s) => configFile(s, '{"train": {'),
    expect: /--config \S+bad\.json: .*JSON/,
  },
  {
    name: 'unknown flag',
    cmd: 'qat',
    args: () => ['--lrr', '1e-3'],
    expect: /unknown flag --lrr; did you mean --lr\?/,
  },
  {
    name: 'flag value that is not a number (sweep, before the teacher)',
    cmd: 'sweep',
    args: () => ['--lr', 'abc'],
    expect: /--lr must be a number > 0, got "abc"/,
  },
  {
    name: 'flag value out of range',
    cmd: 'sweep',
    args: () => ['--weight-bits', '3'],
    expect: /--weight-bits must be 2, 4 or 8, got "3"/,
  },
  { name: 'bad --jobs', cmd: 'sweep', args: () => ['--jobs', '0'], expect: /--jobs must be an integer >= 1, got "0"/ },
];

/** The reduced suite's subset: one of each kind (data row, checkpoint, config file, flag). */
export const REDUCED_BAD_INPUTS = [
  'TSV row with missing fields',
  'checkpoint tensor of a wrong shape',
  'config file with an unknown key',
  'flag value that is not a number (sweep, before the teacher)',
];

const COMMON = [
  '--task',
  'rte',
  '--train-limit',
  '32',
  '--eval-limit',
  '16',
  '--max-seq-len',
  '24',
  '--batch-size',
  '8',
  '--epochs',
  '1',
  '--backend',
  'cpu',
];

/** Run one bad input in sandbox `dir`; returns what went wrong (empty: a named error, exit 2, nothing written). */
export async function runBadInput(b: Bench, bad: BadInput, dir: string): Promise<string[]> {
  rmSync(dir, { recursive: true, force: true });
  const s: Sandbox = { dir, glue: join(dir, 'glue'), teacher: join(dir, 'teacher'), out: join(dir, 'out') };
  mkdirSync(dir, { recursive: true });
  cpSync(b.glue, s.glue, { recursive: true });
  cpSync(join(b.ref, 'teachers', 'tiny', 'rte'), s.teacher, { recursive: true });
  bad.setup?.(s);
  const args =
    bad.cmd === 'qat'
      ? [...COMMON, '--teacher', s.teacher, '--preset', 'map', '--run-dir', join(s.out, 'run')]
      : // no teacher in s.out: a sweep would fine-tune one first
        [...COMMON, '--bert', 'tiny', '--grid', 'smoke', '--out', s.out, '--no-report'];
  args.push(...(bad.args?.(s) ?? []));
  const before = snapshot(dir);
  const env = {
    ...b.env,
    GLUE_DIR: s.glue,
    KDQAT_MODELS: join(dir, 'models'),
    KDQAT_OUTPUT: join(dir, 'output'),
    KDQAT_CACHE_DIR: join(dir, 'cache'),
  };
  const r = await runCli(bad.cmd, args, env, { timeoutMs: 120_000 });
  const p: string[] = [];
  if (r.status !== 2) p.push(`exit ${r.status ?? r.signal}, not 2`);
  if (!bad.expect.test(r.stderr))
    p.push(`no message like ${bad.expect}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  if (/\n\s+at .*:\d+:\d+/.test(r.stderr)) p.push('a stack trace was printed');
  const after = snapshot(dir);
  const changed = [...new Set([...Object.keys(before), ...Object.keys(after)])].filter(
    (f) => !f.startsWith(join(dir, 'cache')) && before[f] !== after[f],
  );
  if (changed.length)
    p.push(`wrote ${changed.slice(0, 3).join(', ')}${changed.length > 3 ? ` and ${changed.length - 3} more` : ''}`);
  return p;
}
