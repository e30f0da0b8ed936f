/** Where a number came from: the project's root, its git state, paths relative to it. */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * `s` with every absolute path inside this project written relative to it ('.' for the project itself), so that a
 * recorded command line or a committed result file names no folder of the machine it was made on.
 */
export function projectRelative(s: string): string {
  const root = PROJECT_ROOT.replace(/\/+$/, '');
  // the root itself, not a sibling
  const bare = new RegExp(`${root.replace(/[.*+?^$()|[\]\\{}]/g, '\\$&')}(?![\\w.-])`, 'g');
  return s.split(`${root}/`).join('').replace(bare, '.');
}

/** HEAD and the tracked files changed against it (untracked files do not count); throws when git cannot tell. */
export function gitState(): { commit: string; dirty: boolean; changed: string[] } {
  const git = (args: string[]) =>
    execFileSync('git', args, { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  const commit = git(['rev-parse', 'HEAD']).trim();
  // --no-optional-locks: `git status` otherwise refreshes the index under .git/index.lock, which a run killed at that
  // moment (kill -9, the fault suite) leaves behind, blocking the user's next commit
  const changed = git(['--no-optional-locks', 'status', '--porcelain', '--untracked-files=no'])
    .split('\n')
    .filter(Boolean)
    .map((l) => l.slice(3));
  return { commit, dirty: changed.length > 0, changed };
}

/** HEAD and whether tracked files differ from it, for a run's provenance ('unknown' outside a git checkout). */
export function gitCommit(): { commit: string; dirty: boolean } {
  try {
    const { commit, dirty } = gitState();
    return { commit, dirty };
  } catch {
    return { commit: 'unknown', dirty: false };
  }
}
