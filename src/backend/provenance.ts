/** Where a number came from: git commit, backend, threads, versions, machine, command line, date. */
import { backendInfo } from './backend.js';
import { gitCommit, projectRelative } from '../util/provenance.js';

export function provenance(): Record<string, unknown> {
  const b = backendInfo();
  return {
    git: gitCommit(),
    backend: b.backend,
    threads: b.threads,
    versions: b.versions,
    machine: b.machine,
    argv: process.argv.slice(2).map(projectRelative),
    date: new Date().toISOString(),
  };
}
