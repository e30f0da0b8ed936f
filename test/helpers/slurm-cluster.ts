/**
 * A real single-node Slurm cluster for tests: munged, slurmctld and slurmd on 127.0.0.1 with free ports, and every
 * file (munge key, socket, slurm.conf, spool, state, logs, pid files) in one temporary folder. startCluster throws
 * with the reason and the daemons' logs when it cannot come up; stop() cancels its jobs and stops the daemons by
 * their pid files.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { randomBytes } from 'node:crypto';
import { cpus, tmpdir, totalmem, userInfo } from 'node:os';
import { join } from 'node:path';

export interface Cluster {
  dir: string;
  env: NodeJS.ProcessEnv;
  stop: () => Promise<void>;
}

/** A TCP port on 127.0.0.1 that nobody listens on right now. */
function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => res(p));
    });
  });
}

const DAEMONS = { munged: '/usr/sbin/munged', slurmctld: '/usr/sbin/slurmctld', slurmd: '/usr/sbin/slurmd' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The last lines of every log in the cluster folder (for failure messages). */
function logs(dir: string): string {
  return ['munged.log', 'slurmctld.log', 'slurmd.log']
    .map((f) => {
      const p = join(dir, f);
      return `--- ${f}:\n${existsSync(p) ? readFileSync(p, 'utf8').split('\n').slice(-15).join('\n') : '(none)'}`;
    })
    .join('\n');
}

/** Whether a process with this pid exists and is not a zombie (a daemon's unreaped exit in a container). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** Start the cluster; throws (never skips) with the reason when it cannot. */
export async function startCluster(): Promise<Cluster> {
  const missing = [...Object.values(DAEMONS), 'sbatch', 'squeue', 'scancel', 'sinfo'].filter(
    (c) => spawnSync('sh', ['-c', `command -v ${c}`]).status !== 0,
  );
  if (missing.length)
    throw new Error(
      `cannot start a Slurm cluster: ${missing.join(', ')} not installed (run bash .ci/install-system.sh, which ` +
        `installs slurm-wlm and munge)`,
    );
  const dir = mkdtempSync(join(tmpdir(), 'kdqat-slurm-cluster-'));
  chmodSync(dir, 0o755); // munged wants its socket's folder searchable by all
  for (const d of ['state', 'spool']) mkdirSync(join(dir, d));
  const [ctldPort, slurmdPort] = [await freePort(), await freePort()];
  const user = userInfo().username;
  writeFileSync(join(dir, 'munge.key'), randomBytes(1024));
  chmodSync(join(dir, 'munge.key'), 0o400);
  const conf = join(dir, 'slurm.conf');
  writeFileSync(
    conf,
    [
      'ClusterName=kdqattest',
      'SlurmctldHost=localhost(127.0.0.1)',
      `SlurmctldPort=${ctldPort}`,
      `SlurmdPort=${slurmdPort}`,
      'AuthType=auth/munge',
      'CredType=cred/munge',
      `AuthInfo=socket=${join(dir, 'munge.sock')}`,
      `SlurmUser=${user}`,
      `SlurmdUser=${user}`,
      `StateSaveLocation=${join(dir, 'state')}`,
      `SlurmdSpoolDir=${join(dir, 'spool')}`,
      `SlurmctldPidFile=${join(dir, 'slurmctld.pid')}`,
      `SlurmdPidFile=${join(dir, 'slurmd.pid')}`,
      `SlurmctldLogFile=${join(dir, 'slurmctld.log')}`,
      `SlurmdLogFile=${join(dir, 'slurmd.log')}`,
      'ProctrackType=proctrack/linuxproc',
      'TaskPlugin=task/none',
      'SelectType=select/cons_tres',
      'SelectTypeParameters=CR_CPU',
      'AccountingStorageType=accounting_storage/none',
      'JobAcctGatherType=jobacct_gather/none',
      'JobCompType=jobcomp/none',
      'MpiDefault=none',
      'ReturnToService=2',
      'KillWait=10',
      'SchedulerType=sched/backfill',
      `NodeName=localhost NodeAddr=127.0.0.1 CPUs=${cpus().length} RealMemory=` +
        `${Math.floor((totalmem() / 2 ** 20) * 0.9)} State=UNKNOWN`,
      'PartitionName=test Nodes=localhost Default=YES MaxTime=INFINITE State=UP',
      '',
    ].join('\n'),
  );
  const env = { ...process.env, SLURM_CONF: conf };
  const cluster: Cluster = { dir, env, stop: () => stopCluster(dir, env) };
  const start = (cmd: string, args: string[]) => {
    const r = spawnSync(cmd, args, { env, encoding: 'utf8', timeout: 30_000 });
    if (r.status !== 0)
      throw new Error(
        `cannot start a Slurm cluster: ${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}: ` +
          `${r.error?.message ?? ''}${r.stderr}\n${logs(dir)}`,
      );
  };
  try {
    start(DAEMONS.munged, [
      `--key-file=${join(dir, 'munge.key')}`,
      `--socket=${join(dir, 'munge.sock')}`,
      `--pid-file=${join(dir, 'munged.pid')}`,
      `--log-file=${join(dir, 'munged.log')}`,
      `--seed-file=${join(dir, 'munge.seed')}`,
    ]);
    start(DAEMONS.slurmctld, ['-f', conf]);
    start(DAEMONS.slurmd, ['-f', conf, '-N', 'localhost']);
    const t0 = Date.now();
    let state = '';
    while (Date.now() - t0 < 60_000) {
      state = spawnSync('sinfo', ['--noheader', '--format=%T'], { env, encoding: 'utf8' }).stdout?.trim() ?? '';
      if (/^(idle|mixed|allocated)/.test(state)) return cluster;
      await sleep(250);
    }
    throw new Error(`cannot start a Slurm cluster: the node is not idle after 60 s (sinfo: "${state}")\n${logs(dir)}`);
  } catch (e) {
    await cluster.stop();
    throw e;
  }
}

/**
 * Cancel the cluster's jobs, stop slurmd, slurmctld and munged by their pid files (SIGKILL after 10 s), remove the
 * folder.
 */
async function stopCluster(dir: string, env: NodeJS.ProcessEnv): Promise<void> {
  if (existsSync(join(dir, 'slurmctld.pid'))) {
    spawnSync('scancel', ['--user', userInfo().username], { env, timeout: 15_000 });
    const t0 = Date.now();
    while (
      Date.now() - t0 < 15_000 &&
      (spawnSync('squeue', ['--noheader'], { env, encoding: 'utf8', timeout: 15_000 }).stdout ?? '').trim()
    )
      await sleep(250);
  }
  for (const name of ['slurmd', 'slurmctld', 'munged']) {
    const pidFile = join(dir, `${name}.pid`);
    if (!existsSync(pidFile)) continue;
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 1 || !alive(pid)) continue;
    process.kill(pid, 'SIGTERM');
    const t0 = Date.now();
    while (alive(pid) && Date.now() - t0 < 10_000) await sleep(100);
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  }
  rmSync(dir, { recursive: true, force: true });
}
