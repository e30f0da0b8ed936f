/**
 * What an interrupted analysis keeps: on Ctrl-C (SIGINT) the finished parts are written to <out>/partial.json, with
 * the configuration they belong to; the same configuration run again resumes from them.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { atomicWriteJson } from '../util/fsx.js';
import type { PartialResults } from './run.js';

export class Checkpoint {
  readonly path: string;
  /** the parts kept from an interrupted run of the same configuration */
  readonly resume?: PartialResults;
  stopRequested = false;

  /** key: the configuration (and backend) the parts belong to, as a string */
  constructor(
    out: string,
    private readonly key: string,
    log: (s: string) => void,
  ) {
    this.path = join(out, 'partial.json');
    if (!existsSync(this.path)) return;
    let p: (PartialResults & { key?: string }) | null = null;
    try {
      p = JSON.parse(readFileSync(this.path, 'utf8'));
    } catch {
      /* damaged: started anew */
    }
    if (p && p.key === key) {
      this.resume = { forward: p.forward, hessian: p.hessian };
      const spectra = Object.values(p.hessian ?? {}).reduce((a, r) => a + r.length, 0);
      const fwd = p.forward ? 'forward experiments done' : 'forward experiments to do';
      log(`resuming the interrupted analysis in ${out}: ${fwd}, ${spectra} Hessian spectra done`);
    } else log(`${this.path} holds an interrupted analysis of another command (or is damaged); starting anew`);
  }

  /** SIGINT asks the run to stop after the current example or spectrum; a second one stops at once */
  catchInterrupt(log: (s: string) => void): void {
    process.on('SIGINT', () => {
      if (this.stopRequested) process.exit(130);
      this.stopRequested = true;
      log(
        `SIGINT: stopping after the current example or spectrum; finished parts are kept in ${this.path} ` +
          '(Ctrl-C again: stop at once)',
      );
    });
  }

  save(p: PartialResults): void {
    atomicWriteJson(this.path, { key: this.key, ...p });
  }

  remove(): void {
    rmSync(this.path, { force: true });
  }
}
