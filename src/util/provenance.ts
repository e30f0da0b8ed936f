/** Where a number came from: git commit, backend, versions, machine, command line. */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { backendInfo } from '../backend/backend.js';

export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export function gitCommit(): { commit: string; dirty: boolean } {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    // --no-optional-locks: `git status` otherwise refreshes the index under .git/index.lock, which a run killed at that
    // moment (kill -9, the fault suite) leaves behind, blocking the user's next commit
    const dirty = execFileSync('git', ['--no-optional-locks', 'status', '--porcelain', '--untracked-files=no'], { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim().length > 0;
    return { commit, dirty };
  } catch {
    return { commit: 'unknown', dirty: false };
  }
}

export function provenance(): Record<string, unknown> {
  const b = backendInfo();
  return { git: gitCommit(), backend: b.backend, threads: b.threads, versions: b.versions, machine: b.machine, argv: process.argv.slice(2), date: new Date().toISOString() };
}
