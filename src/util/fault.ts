/**
 * Fault injection for the fault suite (`npm run chaos`, src/chaos/): `KDQAT_FAULT=<action>@<site>` makes this process
 * fail on purpose at one chosen point. Unset (always, outside the suite), every call is one comparison.
 *
 *   kill@step:N                 SIGKILL at the Nth training step this process runs (after its optimizer update,
 *     before its log line)
 *   kill@eval:N                 SIGKILL in the middle of the Nth evaluation this process runs (after its first batch;
 *                               a KD-QAT run's first evaluation is its teacher's)
 *   kill@write:NAME[#N]         SIGKILL during the Nth atomic write of a file named NAME (e.g. latest.json#2,
 *                               state.safetensors, metrics.json, results.md): half of the temp file written, not
 *                                 renamed
 *   enospc@write:NAME[#N]       that write fails as a full disk does (ENOSPC) after writing part of its temp file
 *   stop@step:N, stop@eval:N    SIGSTOP instead of SIGKILL (a live but frozen process, e.g. one holding a lock)
 *
 * kill and stop signal the whole process group (pid 0): a sweep and the runs it started die together, as on a
 * crash of the machine or `kill -9 -<pgid>`. Counts are per process; N defaults to 1.
 */
import { UserError } from './errors.js';

export interface FaultSpec {
  action: 'kill' | 'stop' | 'enospc';
  site: 'step' | 'eval' | 'write';
  name: string | null;
  nth: number;
}

const FORM = /^(kill|stop|enospc)@(step|eval|write)(?::([^#]+?))?(?:#(\d+))?$/;

/** Parse a KDQAT_FAULT value; null when unset or empty. */
export function parseFault(text: string | undefined): FaultSpec | null {
  if (!text) return null;
  const m = FORM.exec(text.trim());
  const bad = () =>
    new UserError(
      `KDQAT_FAULT="${text}" is not a fault: use kill@step:N, kill@eval:N, kill@write:NAME[#N], ` +
        `enospc@write:NAME[#N] or stop@step:N (src/util/fault.ts)`,
    );
  if (!m) throw bad();
  const [, action, site, arg, hash] = m;
  if (site === 'write') {
    if (!arg || action === 'stop') throw bad();
    return { action: action as FaultSpec['action'], site, name: arg, nth: hash ? Number(hash) : 1 };
  }
  if (action === 'enospc' || hash || (arg !== undefined && !/^\d+$/.test(arg))) throw bad();
  return {
    action: action as FaultSpec['action'],
    site: site as FaultSpec['site'],
    name: null,
    nth: arg ? Number(arg) : 1,
  };
}

let spec: FaultSpec | null | undefined; // undefined: not read yet
let seen = 0;

/**
 * A point where a fault may be injected: `site` (and the written file's base name for writes). Returns normally
 * unless this is the chosen occurrence; then kills or stops the process group, or (enospc) throws ENOSPC.
 */
export function faultPoint(site: FaultSpec['site'], name?: string): void {
  if (spec === null) return;
  if (spec === undefined) {
    spec = parseFault(process.env.KDQAT_FAULT);
    if (!spec) return;
  }
  if (spec.site !== site || (spec.name !== null && spec.name !== name)) return;
  if (++seen !== spec.nth) return;
  if (spec.action === 'enospc')
    throw Object.assign(new Error(`ENOSPC: no space left on device, write (injected by KDQAT_FAULT)`), {
      code: 'ENOSPC',
      syscall: 'write',
    });
  process.kill(0, spec.action === 'kill' ? 'SIGKILL' : 'SIGSTOP');
  // Woken up: signals sent while frozen are delivered now, possibly to another thread that a loaded machine runs
  // later. A moment's wait lets their handlers write to the event loop before this step reaches its boundary.
  if (spec.action === 'stop') Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 250);
}
