/**
 * Small filesystem helpers: atomic writes (temp file + rename) so a killed process never leaves half a file in
 * place, and the temp files of writers that were killed are removed by the next write of the same file.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { UserError } from './errors.js';
import { faultPoint } from './fault.js';
import { isAlive } from './lock.js';

/** The temp-file name pattern of atomicWrite: `.<name>.<pid>.<ms>.tmp` beside the target. */
export const TEMP_FILE = /^\..+\.(\d+)\.\d+\.tmp$/;

/** Remove temp files of `name` in `dir` left by writers that are gone (killed mid-write). */
function removeStaleTemps(dir: string, name: string): void {
  const prefix = `.${name}.`;
  for (const f of readdirSync(dir)) {
    const m = f.startsWith(prefix) ? TEMP_FILE.exec(f) : null;
    if (m && Number(m[1]) !== process.pid && !isAlive(Number(m[1]))) rmSync(join(dir, f), { force: true });
  }
}

/** Write buf[from, to) to fd, however many calls it takes (chunks of at most 1 GiB). */
function writeAll(fd: number, buf: Uint8Array, from: number, to: number): void {
  for (let p = from; p < to; ) p += writeSync(fd, buf, p, Math.min(to - p, 1 << 30));
}

/**
 * Write `data` to `path` atomically: write a sibling temp file, fsync it, rename over the target. A full disk
 * (ENOSPC, EDQUOT) is a UserError naming the file; the temp file is removed on any failure.
 */
export function atomicWrite(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  removeStaleTemps(dirname(path), basename(path));
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const fd = openSync(tmp, 'w');
  try {
    const half = buf.length >> 1;
    writeAll(fd, buf, 0, half);
    faultPoint('write', basename(path)); // KDQAT_FAULT: a kill or a full disk half-way through this file
    writeAll(fd, buf, half, buf.length);
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, path);
  } catch (e) {
    try {
      closeSync(fd);
    } catch {
      /* closed already */
    }
    rmSync(tmp, { force: true });
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EDQUOT')
      throw new UserError(
        `cannot write ${path}: no space left on device (${code}); free some space and run the same command again (it ` +
          `resumes)`,
      );
    throw e;
  }
}

export function atomicWriteJson(path: string, value: unknown): void {
  atomicWrite(path, JSON.stringify(value, null, 2) + '\n');
}
