// pinsim gup-test: the port of the kernel's gup_test. Options, result counts
// and the output's shape on both cores; never times.
import { describe, it, expect } from 'vitest';
import {
  parseGupTestArgs, runGupTest, gupTestMain, type GupTestOptions, type GupTestResult,
} from '../src/gup-test/index';
import { boot, type BootOptions } from '../src/index';
import { BACKENDS, C } from './helpers';

const MB = 2 ** 20;
const TIME = /^(GUP_FAST|PIN_FAST|PIN_LONGTERM)_BENCHMARK: Time: get:\d+ put:\d+ us(, truncated \(size: \d+\))?$/;
const NS = /^ {2}get (\d+\.\d ns\/page|n\/a), put (\d+\.\d ns\/page|n\/a) \((wasm|ts) core, \d+ pages, \d+ per call\)$/;

function opts(args: string[]): GupTestOptions {
  const p = parseGupTestArgs(args);
  if (!p.ok) throw new Error(p.error);
  return p.options;
}

function parseError(args: string[]): string {
  const p = parseGupTestArgs(args);
  if (p.ok) throw new Error(`expected ${args.join(' ')} to be refused`);
  return p.error;
}

// After a run every reference is given back: pins balance, nothing is left pinned.
function expectReleased(r: GupTestResult): void {
  const k = r.kernel!;
  const vm = k.vmstat();
  expect(vm.nr_foll_pin_acquired).toBe(vm.nr_foll_pin_released);
  const t = k.tasks[0];
  for (const off of [0, r.options.size / 2, r.options.size - C.PAGE_SIZE]) {
    const pfn = t.translate(r.addr + off)!;
    expect(k.folio_maybe_dma_pinned(pfn)).toBe(false);
  }
}

describe('gup-test options (gup_test.c getopt)', () => {
  it('has the kernel tool\'s defaults', () => {
    const o = opts([]);
    expect(o).toMatchObject({
      cmd: 'GUP_FAST_BENCHMARK', size: 128 * MB, nrPagesPerCall: 1, repeats: 1, write: true,
      gupFlags: C.FOLL_WRITE, mapFlags: C.MAP_PRIVATE | C.MAP_ANONYMOUS, thp: -1, testFlags: 0,
      backend: 'wasm', memory: null,
    });
    expect(o.whichPages).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('parses separate, grouped and attached options; the last command wins', () => {
    expect(opts(['-m', '64', '-n', '512', '-a', '-w'])).toMatchObject({ cmd: 'PIN_FAST_BENCHMARK', size: 64 * MB, nrPagesPerCall: 512 });
    expect(opts(['-aW', '-n512', '-m4', '-r', '3', '-L'])).toMatchObject({
      cmd: 'PIN_LONGTERM_BENCHMARK', size: 4 * MB, nrPagesPerCall: 512, repeats: 3, write: false, gupFlags: 0,
    });
    expect(opts(['-U']).cmd).toBe('GUP_BASIC_TEST');
    expect(opts(['-b']).cmd).toBe('PIN_BASIC_TEST');
    expect(opts(['-a', '-u']).cmd).toBe('GUP_FAST_BENCHMARK');
    expect(opts(['--backend', 'ts', '--memory=256MiB', '--thp', 'madvise'])).toMatchObject({
      backend: 'ts', memory: 256 * MB, thpMode: 'madvise',
    });
  });

  it('-n -1 is the size given so far, in one call', () => {
    expect(opts(['-m', '4', '-n', '-1']).nrPagesPerCall).toBe(1024);
    expect(opts(['-n', '-1', '-m', '4']).nrPagesPerCall).toBe(32768); // as gup_test.c: -m came too late
  });

  it('-F is strtol base 0 and keeps FOLL_WRITE unless -W', () => {
    expect(opts(['-F', '0x100']).gupFlags).toBe(C.FOLL_LONGTERM | C.FOLL_WRITE);
    expect(opts(['-W', '-F', '0x101']).gupFlags).toBe(0x101);
    expect(opts(['-F', '010', '-W']).gupFlags).toBe(8);
    expect(opts(['-F', '16', '-W']).gupFlags).toBe(16);
  });

  it('-S, -H, -t, -T set the mapping and madvise', () => {
    expect(opts(['-S']).mapFlags).toBe(C.MAP_SHARED | C.MAP_ANONYMOUS);
    expect(opts(['-H']).mapFlags).toBe(C.MAP_PRIVATE | C.MAP_ANONYMOUS | C.MAP_HUGETLB);
    expect(opts(['-S', '-H']).mapFlags).toBe(C.MAP_SHARED | C.MAP_ANONYMOUS | C.MAP_HUGETLB);
    expect(opts(['-t']).thp).toBe(1);
    expect(opts(['-t', '-T']).thp).toBe(0);
  });

  it('-c takes 0-based page indices as operands (stored 1-based), at most 8; -p pins', () => {
    expect(opts(['-c']).whichPages).toEqual([1, 0, 0, 0, 0, 0, 0, 0]);
    const o = opts(['-c', '0', '1', '-p', '0x1001']); // operands after options, as GNU getopt permutes
    expect(o).toMatchObject({ cmd: 'DUMP_USER_PAGES_TEST', testFlags: 1 });
    expect(o.whichPages).toEqual([1, 2, 0x1002, 0, 0, 0, 0, 0]);
    expect(opts(['-c', ...'0 1 2 3 4 5 6 7 8 9'.split(' ')]).whichPages).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(opts(['-c', '--', '-1']).whichPages[0]).toBe(0);
  });

  it('refuses bad usage', () => {
    expect(parseError(['-x'])).toMatch(/invalid option -- 'x'/);
    expect(parseError(['-m'])).toMatch(/requires an argument -- 'm'/);
    expect(parseError(['-m', 'abc'])).toMatch(/-m/);
    expect(parseError(['-m', '0'])).toMatch(/-m/);
    expect(parseError(['-F', 'zz'])).toMatch(/-F/);
    expect(parseError(['-f', '/dev/zero'])).toMatch(/not supported/);
    expect(parseError(['--backend', 'js'])).toMatch(/backend/);
    expect(parseError(['--memory', '5MiB'])).toMatch(/multiple of 4MiB/);
    expect(parseError(['-c', 'x'])).toMatch(/page index/);
    expect(parseError(['--nope'])).toMatch(/unrecognized option/);
  });

  it('gupTestMain: usage errors exit 2 with one line and where the help is, --help exits 0', async () => {
    const out: string[] = [];
    const err: string[] = [];
    expect(await gupTestMain(['-q'], (l) => out.push(l), (l) => err.push(l))).toBe(2);
    expect(out).toEqual([]);
    expect(err).toEqual(["pinsim: invalid option -- 'q'", "see 'pinsim gup-test --help'"]);
    expect(await gupTestMain(['-h'], (l) => out.push(l), (l) => err.push(l))).toBe(0);
    expect(out[0]).toMatch(/^usage: pinsim gup-test/);
  });
});

describe.each(BACKENDS)('gup-test runs (%s core)', (backend) => {
  // No warm-up pass: these tests count the timed passes' lines and pins.
  const run = (args: string[], bootOptions: Partial<BootOptions> = {}) => {
    const o = opts([...args, '--backend', backend, '--warmup', '0']);
    return runGupTest(o, { bootOptions: { wasm: 'debug', ...bootOptions } });
  };

  it.each([
    ['-u', 'GUP_FAST_BENCHMARK', '1'], ['-a', 'PIN_FAST_BENCHMARK', '64'], ['-L', 'PIN_LONGTERM_BENCHMARK', '-1'],
    ['-a', 'PIN_FAST_BENCHMARK', '1000'], ['-u', 'GUP_FAST_BENCHMARK', '-1'], ['-L', 'PIN_LONGTERM_BENCHMARK', '3'],
  ])('%s -m 4 -n %s: %s over the whole range, one Time line', async (flag, cmd, n) => {
    const r = await run([flag, '-m', '4', '-n', n]);
    expect(r.exitCode).toBe(0);
    expect(r.runs).toHaveLength(1);
    const perCall = n === '-1' ? 1024 : Number(n);
    expect(r.runs[0]).toMatchObject({ nrPages: 1024, size: 4 * MB, truncated: false, error: null, verifyFailed: false,
      calls: Math.ceil(1024 / perCall) });
    expect(r.lines).toHaveLength(2);
    expect(r.lines[0]).toMatch(TIME);
    expect(r.lines[0].startsWith(`${cmd}: Time: get:`)).toBe(true);
    expect(r.lines[0]).not.toMatch(/truncated/);
    expect(r.lines[1]).toMatch(NS);
    expect(r.lines[1]).toContain(`(${backend} core, 1024 pages, ${perCall} per call)`);
    const vm = r.kernel!.vmstat();
    expect(vm.nr_foll_pin_acquired).toBe(cmd.startsWith('PIN') ? 1024 : 0);
    expectReleased(r);
  });

  it('-U and -b: the BASIC tests print "done" once, whatever -r says, and no times (as gup_test.c)', async () => {
    for (const [flag, cmd] of [['-U', 'GUP_BASIC_TEST'], ['-b', 'PIN_BASIC_TEST']]) {
      const r = await run([flag, '-m', '4', '-n', '100', '-r', '5']);
      expect(r.exitCode).toBe(0);
      expect(r.runs).toHaveLength(1);
      expect(r.runs[0]).toMatchObject({ nrPages: 1024, calls: 11, truncated: false });
      expect(r.lines).toEqual([`${cmd}: done`]);
      expectReleased(r);
    }
  });

  it('-r 3 repeats a benchmark: three Time lines', async () => {
    const r = await run(['-a', '-m', '4', '-n', '256', '-r', '3', '-W']);
    expect(r.exitCode).toBe(0);
    expect(r.runs.map((x) => x.nrPages)).toEqual([1024, 1024, 1024]);
    expect(r.lines.filter((l) => TIME.test(l))).toHaveLength(3);
    expect(r.lines.filter((l) => NS.test(l))).toHaveLength(3);
    expect(r.kernel!.vmstat().nr_foll_pin_acquired).toBe(3 * 1024);
    expectReleased(r);
  });

  it('-H: MAP_HUGETLB on a machine booted with enough 2 MiB hugepages', async () => {
    const r = await run(['-H', '-m', '6', '-a', '-n', '512']);
    expect(r.exitCode).toBe(0);
    expect(r.runs[0]).toMatchObject({ nrPages: 1536, truncated: false });
    expect(r.lines[0]).toMatch(TIME);
    const k = r.kernel!;
    expect(k.meminfo().HugePages_Total).toBe(3);
    const p = k.page(k.tasks[0].translate(r.addr)!);
    expect(p.flags).toContain('hugetlb');
    expect(p.order).toBe(9);
    expectReleased(r);
  });

  it('-t under THP madvise maps huge pages, -T under THP always does not', async () => {
    const t = await run(['-t', '-L', '-m', '4', '-n', '1024'], { thp: 'madvise' });
    expect(t.exitCode).toBe(0);
    expect(t.kernel!.page(t.kernel!.tasks[0].translate(t.addr)!).order).toBe(9);
    const off = await run(['-T', '-L', '-m', '4', '-n', '1024']);
    expect(off.kernel!.page(off.kernel!.tasks[0].translate(off.addr)!).order).toBe(0);
    for (const r of [t, off]) expectReleased(r);
  });

  it('-S: MAP_SHARED|MAP_ANONYMOUS (shmem)', async () => {
    const r = await run(['-S', '-a', '-m', '4', '-n', '32']);
    expect(r.exitCode).toBe(0);
    expect(r.runs[0].nrPages).toBe(1024);
    expect(r.kernel!.meminfo().Shmem).toBeGreaterThanOrEqual(4096);
    expectReleased(r);
  });

  it('-c dumps the selected pages (0-based on the command line) and zeroes out-of-range ones', async () => {
    const r = await run(['-c', '-m', '4', '-n', '64', '0', '3', '5000']);
    expect(r.exitCode).toBe(0);
    expect(r.lines[0]).toBe('ZEROING due to out of range: .which_pages[2]: 5001');
    const heads = r.lines.filter((l) => l.startsWith('---- page #'));
    expect(heads).toEqual([
      `---- page #0, starting from user virt addr: 0x${r.addr.toString(16)}`,
      `---- page #3, starting from user virt addr: 0x${r.addr.toString(16)}`,
    ]);
    expect(r.lines.filter((l) => /^page: refcount:\d+ mapcount:\d+ /.test(l))).toHaveLength(2);
    expect(r.lines.filter((l) => l === 'page dumped because: gup_test: dump_pages() test')).toHaveLength(2);
    expect(r.lines.some((l) => l.includes('maybe_dma_pinned'))).toBe(false); // get_user_pages()
    expect(r.lines.at(-1)).toBe('DUMP_USER_PAGES_TEST: done');
    // ... and the kernel side logged the same to dmesg
    expect(r.kernel!.dmesg()).toContain('page dumped because: gup_test: dump_pages() test');
    expectReleased(r);

    const pinned = await run(['-c', '-p', '-m', '4', '7']);
    expect(pinned.lines.filter((l) => l.startsWith('---- page #'))).toHaveLength(1);
    expect(pinned.lines.some((l) => l.includes('maybe_dma_pinned'))).toBe(true); // pin_user_pages()
    expect(pinned.kernel!.vmstat().nr_foll_pin_acquired).toBe(1024);
    expectReleased(pinned);
  });

  it('-F: a flag GUP refuses is a GUP error (exit 1); pin_user_pages() refusing is a truncation', async () => {
    const r = await run(['-u', '-m', '4', '-n', '16', '-F', '0x100']); // FOLL_LONGTERM without FOLL_PIN
    expect(r.exitCode).toBe(1);
    expect(r.runs[0]).toMatchObject({ nrPages: 0, size: 0, truncated: true, error: { ret: -C.EINVAL, errno: 'EINVAL', call: 0 } });
    expect(r.lines[0]).toMatch(/^gup_test: GUP_FAST_BENCHMARK: GUP call 0 \(addr 0x[0-9a-f]+, 16 pages\) returned -22 \(-EINVAL\)$/);
    expect(r.lines[1]).toMatch(TIME);
    expect(r.lines[1]).toMatch(/, truncated \(size: 0\)$/);
    expect(r.lines[2]).toMatch(NS);

    const b = await run(['-b', '-m', '4', '-F', String(C.FOLL_TOUCH)]); // internal flag: pin_user_pages() gives 0
    expect(b.exitCode).toBe(0);
    expect(b.lines.slice(0, 2)).toEqual(['PIN_BASIC_TEST: done', 'Truncated (size: 0)']);

    const ok = await run(['-a', '-m', '4', '-n', '128', '-W', '-F', '0x100']); // FOLL_LONGTERM, read-only
    expect(ok.exitCode).toBe(0);
    expect(ok.runs[0].nrPages).toBe(1024);
    expectReleased(ok);
  });

  it('-n 0 truncates at once', async () => {
    const r = await run(['-a', '-m', '4', '-n', '0']);
    expect(r.exitCode).toBe(0);
    expect(r.runs[0]).toMatchObject({ nrPages: 0, size: 0, truncated: true, calls: 1 });
    expect(r.lines[0]).toMatch(/^PIN_FAST_BENCHMARK: Time: get:\d+ put:\d+ us, truncated \(size: 0\)$/);
    expect(r.lines[1]).toMatch(/^ {2}get n\/a, put n\/a /);
  });

  it('verify_dma_pinned(): a page that is not dma-pinned WARNs and fails the run', async () => {
    let victim = -1;
    const patched = async (o: BootOptions) => {
      const k = await boot(o);
      const real = k.folio_maybe_dma_pinned.bind(k);
      k.folio_maybe_dma_pinned = (pfn: number) => {
        if (victim < 0) victim = pfn;
        return pfn === victim ? false : real(pfn);
      };
      return k;
    };
    const o = opts(['-a', '-m', '4', '-n', '512', '--backend', backend, '--warmup', '0']);
    const r = await runGupTest(o, { boot: patched, bootOptions: { wasm: 'debug' } });
    expect(r.exitCode).toBe(1);
    expect(r.runs[0].verifyFailed).toBe(true);
    expect(r.lines[0]).toBe('pages[0] is NOT dma-pinned');
    expect(r.lines[1]).toMatch(/^WARNING: CPU: 0 PID: \d+ at mm\/gup_test\.c: verify_dma_pinned$/);
    expect(r.lines).toContain('page dumped because: gup_test failure');
    expect(r.lines.find((l) => TIME.test(l))).toBeDefined();
    const vm = r.kernel!.vmstat(); // the pins are still released
    expect(vm.nr_foll_pin_acquired).toBe(vm.nr_foll_pin_released);

    // ... and without the fault injected, -L verifies both predicates and passes
    const good = await run(['-L', '-m', '4', '-n', '512']);
    expect(good.exitCode).toBe(0);
    expect(good.lines.some((l) => l.includes('NOT'))).toBe(false);
  });

  it('-L on a machine whose anonymous memory sits in ZONE_MOVABLE migrates before pinning', async () => {
    const r = await run(['-L', '-T', '-m', '4', '-n', '64', '--movable', '8MiB']);
    expect(r.exitCode).toBe(0);
    expect(r.runs[0].nrPages).toBe(1024);
    const k = r.kernel!;
    expect(k.vmstat().pgmigrate_success).toBeGreaterThan(0);
    expect(k.page(k.tasks[0].translate(r.addr)!).zone).toBe('Normal');
    expectReleased(r);
  });

  it('a pre-fault that fails bails out with exit 1', async () => {
    const r = await run(['-H', '-m', '4', '-a'], { hugepages: { '2MiB': 1 } }); // one hugepage short
    expect(r.exitCode).toBe(1);
    expect(r.error).toMatch(/pre-fault: SIGBUS/);
    expect(r.lines).toEqual([`Bail out! ${r.error}`]);
  });
});
