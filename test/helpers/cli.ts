/** Run a CLI of src/cli/ as a user would, in a sandbox: models/, output/ and the feature cache in a temp folder. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, GLUE_DIR } from './env.js';

export interface Sandbox {
  base: string;
  models: string;
  out: string;
  env: NodeJS.ProcessEnv;
}

export function sandbox(prefix = 'kdqat-cli-'): Sandbox {
  const base = mkdtempSync(join(tmpdir(), prefix));
  const models = join(base, 'models'),
    out = join(base, 'output');
  return {
    base,
    models,
    out,
    env: {
      ...process.env,
      KDQAT_MODELS: models,
      KDQAT_OUTPUT: out,
      GLUE_DIR,
      KDQAT_CACHE_DIR: join(base, '.cache'),
      KDQAT_BACKEND: 'cpu',
    },
  };
}

export function cli(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  cwd = ROOT,
): { status: number | null; stdout: string; stderr: string } {
  const file = cmd === 'glue:download' ? 'glue-download' : cmd;
  // tsx by file URL: the command may run in a folder outside the project (as from a user's own folder)
  const r = spawnSync(
    process.execPath,
    [
      '--import',
      pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href,
      join(ROOT, 'src/cli', `${file}.ts`),
      ...args,
    ],
    { cwd, env, encoding: 'utf8' },
  );
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** every file under dir (recursive) with its size and mtime: a snapshot to compare before/after a command */
export function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    let names: string[] = [];
    try {
      names = readdirSync(d);
    } catch {
      return;
    }
    for (const n of names) {
      const p = join(d, n),
        s = statSync(p);
      if (s.isDirectory()) walk(p);
      else out[p] = `${s.size}:${s.mtimeMs}`;
    }
  };
  walk(dir);
  return out;
}
