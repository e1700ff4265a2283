// `pinsim memlock` as a user runs it (the built dist/cli.js).
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { memlockMain } from '../../src/memlock-plan/cli';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DIR = mkdtempSync(join(tmpdir(), 'pinsim-memlock-'));

interface Run { code: number; out: string[]; err: string[] }

function pinsim(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [`${ROOT}dist/cli.js`, 'memlock', ...args], { cwd: ROOT, timeout: 60_000 }, (e, stdout, stderr) => {
      const lines = (s: string) => (s === '' ? [] : s.replace(/\n$/, '').split('\n'));
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : -1) : 0, out: lines(stdout), err: lines(stderr) });
    });
  });
}

function planFile(name: string, content: string): string {
  const f = join(DIR, name);
  writeFileSync(f, content);
  return f;
}

describe.concurrent('pinsim memlock', () => {
  it('flags in order: each call, the first failure, the smallest ulimit -l, CAP_IPC_LOCK; exit 1 when the plan fails', async () => {
    const r = await pinsim('--io-uring', '16x2KiB', '--unaligned', '--mlock', '8KiB', '--ulimit', '64KiB', '--thp', 'never');
    expect(r.code).toBe(1);
    expect(r.err).toEqual([]);
    expect(r.out[0]).toBe('pinsim memlock: kernel latest, wasm core, a 68 MiB machine (thp never); ulimit -l 64 KiB, without CAP_IPC_LOCK');
    expect(r.out).toContain('1  io_uring 16x2KiB unaligned            fails: ENOMEM                user.locked_vm +24 (io_uring), mm.pinned_vm +24 (io_uring)');
    expect(r.out).toContain('     ENOMEM from io_uring_register: user.locked_vm is 16 pages, +2 > limit 16 pages');
    expect(r.out).toContain('2  mlock 8KiB                            not run                      mm.locked_vm +2 (mlock)');
    expect(r.out.find((l) => l.startsWith('smallest ulimit -l'))).toMatch(/^smallest ulimit -l for the whole plan: 96 KiB, 24 pages \(\d+ runs\)$/);
    expect(r.out).toContain('with CAP_IPC_LOCK at ulimit -l 64 KiB: passes');
    expect(r.out.find((l) => l.includes('user.locked_vm') && l.includes('not charged'))).toMatch(/user\.locked_vm +0 pages  not charged \(without it: 24\)/);
  });

  it('--json: the report as data; exit 0 when the plan passes', async () => {
    const r = await pinsim('--rdma', '2x1MiB', '--ulimit', '8192', '--json', '--backend', 'ts');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out.join('\n'));
    expect(Object.keys(j)).toEqual(['backend', 'machine', 'run', 'smallest', 'capIpcLock', 'ms']);
    expect(j.backend).toBe('ts');
    expect(j.machine).toMatchObject({ kernel: 'latest', scale: 1, exact: true });
    expect(j.run).toMatchObject({ ulimitKiB: 8192, cap: false, passed: true });
    expect(j.run.calls[0]).toEqual({
      call: 'rdma 2x1MiB', status: 'ok',
      charges: [{ counter: 'mm.pinned_vm', by: 'ib_umem_get', device: 'mlx5_0', pages: 512 }],
      counters: { 'mm.locked_vm': 0, 'mm.pinned_vm': 512, 'user.locked_vm': 0, 'mm.total_vm': 512 },
    });
    expect(j.smallest).toMatchObject({ ulimitKiB: 2048, proven: true, below: { ulimitKiB: 2044, passed: false }, blocker: null });
    expect(j.capIpcLock.counters[1]).toEqual({ counter: 'mm.pinned_vm', without: 512, with: 512, verdict: 'charged' });
  });

  it('a JSON plan file; machine flags override it', async () => {
    const f = planFile('vfio.json', JSON.stringify({ ulimit: '64MiB', calls: [{ kind: 'mlockall' }, { kind: 'vfio', size: '64MiB' }] }));
    const r = await pinsim(f, '--json');
    const j = JSON.parse(r.out.join('\n'));
    expect(r.code).toBe(1);
    expect(j.run.calls[1].error).toMatchObject({ code: 'ENOMEM', syscall: 'VFIO_IOMMU_MAP_DMA', counter: 'mm.locked_vm' });
    expect(j.smallest.ulimitKiB).toBe(131072);
    expect((await pinsim(f, '--ulimit', '128MiB')).code).toBe(0);
    expect((await pinsim(f, '--cap-ipc-lock')).code).toBe(0);
  });

  it('progress: one line per run on a terminal, cleared at the end; nothing when piped', async () => {
    const writes: string[] = [];
    const out: string[] = [];
    const code = await memlockMain(['--rdma', '1MiB', '--backend', 'ts'], (l) => out.push(l), () => {}, { isTTY: true, write: (s: string) => writes.push(s) });
    expect(code).toBe(0);
    expect(writes[0]).toBe('\r\x1b[Kmemlock: run 1: passes');
    expect(writes.at(-2)).toBe(`\r\x1b[Kmemlock: run ${writes.length - 1} with CAP_IPC_LOCK: passes`);
    expect(writes.at(-1)).toBe('\r\x1b[K');
    const piped: string[] = [];
    await memlockMain(['--rdma', '1MiB', '--backend', 'ts'], () => {}, () => {}, { isTTY: false, write: (s: string) => piped.push(s) });
    expect(piped).toEqual([]);
  });

  it('--help', async () => {
    const r = await pinsim('--help');
    expect(r.code).toBe(0);
    expect(r.out[0]).toMatch(/^usage: pinsim memlock/);
  });

  it.each([
    [[], /nothing to plan/],
    [['--unaligned', '--rdma', '1MiB'], /--unaligned: applies to the call before it/],
    [['--rdma', '2xfoo'], /calls\[0\]\.size: cannot parse 'foo'/],
    [['--rdma', '1MiB', '--backend', 'gpu'], /--backend must be wasm or ts/],
    [['--rdma', '1MiB', '--kernel', '4.19'], /kernel: must be one of 5\.5/],
    [['--rdma', '1MiB', '--ulimit', 'lots'], /cannot parse 'lots'/],
    [['--rdma', '1MiB', '--hugepages', '4MiB'], /calls\[0\]\.hugepages: must be one of thp, 2MiB, 1GiB/],
    [['--vfio', '1MiB', '--compat'], /calls\[0\]\.compat: only iommufd takes compat/],
    [['a.json', 'b.json'], /one plan file at most/],
    [['/nonexistent/plan.json'], /cannot read \/nonexistent\/plan\.json/],
    [['--bogus'], /Unknown option '--bogus'/],
  ])('bad usage %j: exit 2, one message on stderr', async (args, why) => {
    const r = await pinsim(...args);
    expect(r.code).toBe(2);
    expect(r.out).toEqual([]);
    expect(r.err).toHaveLength(2);
    expect(r.err[0]).toMatch(why);
    expect(r.err[1]).toBe("see 'pinsim memlock --help'");
  });

  it.each([
    ['not JSON', '{ calls: ', /is not JSON/],
    ['not an object', '[1]', /the plan must be a JSON object/],
    ['a schema error', '{"calls": [{"kind": "dpdk", "size": "1GiB"}]}', /calls\[0\]\.kind: must be one of rdma/],
  ])('a plan file that is %s: exit 2', async (_, content, why) => {
    const r = await pinsim(planFile(`bad-${content.length}.json`, content));
    expect(r.code).toBe(2);
    expect(r.err[0]).toMatch(why);
    const both = await pinsim(planFile('ok.json', '{"calls": [{"kind": "rdma", "size": "1MiB"}]}'), '--rdma', '1MiB');
    expect(both.err[0]).toMatch(/not both/);
  });
});
