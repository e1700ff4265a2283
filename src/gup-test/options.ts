// The command line of tools/testing/selftests/mm/gup_test.c, parsed the way
// its getopt() loop does (GNU getopt: grouped flags `-aw`, attached
// arguments `-n512`, options after operands, `--` ends the options), plus
// pinsim's long options for the simulated machine.
import * as C from '../../assembly/constants';
import type { Backend } from '../core/core';
import type { ThpMode } from '../mm/vma';
import { parseSize } from '../units';
import { PRESETS, ALIASES, type KernelName } from '../eras/presets';

export const MB = 1024 * 1024;
export const GUP_TEST_MAX_PAGES_TO_DUMP = 8; // mm/gup_test.h
export const GUP_TEST_FLAG_DUMP_PAGES_USE_PIN = 0x1; // mm/gup_test.h

// The gup_test ioctls this tool issues, with their numbers in mm/gup_test.h
// (_IOWR('g', nr, struct gup_test)).
export const GUP_TEST_CMDS = {
  GUP_FAST_BENCHMARK: 1,
  PIN_FAST_BENCHMARK: 2,
  PIN_LONGTERM_BENCHMARK: 3,
  GUP_BASIC_TEST: 4,
  PIN_BASIC_TEST: 5,
  DUMP_USER_PAGES_TEST: 6,
} as const;
export type GupTestCmd = keyof typeof GUP_TEST_CMDS;

// Only the *_BENCHMARK commands report times and honour -r (gup_thread()).
export function isBenchmark(cmd: GupTestCmd): boolean {
  return cmd === 'GUP_FAST_BENCHMARK' || cmd === 'PIN_FAST_BENCHMARK' || cmd === 'PIN_LONGTERM_BENCHMARK';
}

export interface GupTestOptions {
  cmd: GupTestCmd; // -u (default) -a -L -U -b -c
  size: number; // bytes: -m MiB, default 128 MiB
  nrPagesPerCall: number; // -n, default 1 (-n -1: size / PAGE_SIZE, with the size given so far)
  repeats: number; // -r, default 1
  warmup: number; // pinsim: untimed passes before a *_BENCHMARK's first timed one, default 1
  write: boolean; // -w (default) / -W
  gupFlags: number; // struct gup_test.gup_flags: -F's value, | FOLL_WRITE unless -W
  mapFlags: number; // mmap() flags: MAP_PRIVATE|MAP_ANONYMOUS, -S MAP_SHARED, -H |MAP_HUGETLB
  thp: -1 | 0 | 1; // -t: MADV_HUGEPAGE, -T: MADV_NOHUGEPAGE, -1: no madvise()
  whichPages: number[]; // struct gup_test.which_pages[8]: 1-based page indices, 0 = none (__u32)
  testFlags: number; // -p: GUP_TEST_FLAG_DUMP_PAGES_USE_PIN
  // pinsim: the simulated machine
  backend: Backend; // --backend, default 'wasm'
  memory: number | null; // --memory bytes; null: size * 2 + 64 MiB, rounded up to 4 MiB
  thpMode: ThpMode; // --thp: /sys/kernel/mm/transparent_hugepage/enabled, default 'always'
  movable: number; // --movable: ZONE_MOVABLE bytes, default 0
  cma: number; // --cma: CMA bytes, default 0
  kernel: KernelName; // --kernel: the kernel preset the machine boots with, default latest
}

export type ParseResult =
  | { ok: true; options: GupTestOptions; help: boolean }
  | { ok: false; error: string };

export const USAGE = `usage: pinsim gup-test [options] [page indices to dump (-c)]
A port of tools/testing/selftests/mm/gup_test.c and mm/gup_test.c onto pinsim.
commands (the last one given wins):
  -u          GUP_FAST_BENCHMARK: get_user_pages_fast() + put_page() (default)
  -a          PIN_FAST_BENCHMARK: pin_user_pages_fast() + unpin_user_pages()
  -L          PIN_LONGTERM_BENCHMARK: pin_user_pages(FOLL_LONGTERM) + unpin_user_pages()
  -U          GUP_BASIC_TEST: get_user_pages() + put_page()
  -b          PIN_BASIC_TEST: pin_user_pages() + unpin_user_pages()
  -c          DUMP_USER_PAGES_TEST: get_user_pages() and dump_page() the pages given as
              trailing arguments, 0-based, strtol() base 0 (default: page 0; at most 8)
  -p          with -c: pin_user_pages() instead of get_user_pages()
options:
  -m MiB      size of the mapping (default 128)
  -n N        pages per GUP call (default 1; -1: the whole size given so far in one call)
  -r N        repeats of a *_BENCHMARK command (default 1, at least 1)
  -w / -W     FOLL_WRITE (default) / read-only GUP
  -S          MAP_SHARED|MAP_ANONYMOUS (default MAP_PRIVATE|MAP_ANONYMOUS)
  -H          MAP_HUGETLB (the machine boots with enough 2 MiB hugepages)
  -t / -T     madvise(MADV_HUGEPAGE) / madvise(MADV_NOHUGEPAGE) the mapping
  -F FLAGS    gup_flags, strtol() base 0 (0x.. hex); FOLL_WRITE is added unless -W
pinsim:
  --backend wasm|ts   core (default wasm)
  --memory SIZE       machine RAM, e.g. 512MiB, at most 256GiB (default: 2 * size + 64MiB,
                      rounded up to 4MiB)
  --thp always|madvise|never   the machine's THP mode (default always)
  --movable SIZE, --cma SIZE   a ZONE_MOVABLE or CMA area (default none)
  --kernel K          the kernel preset to boot (default latest; pinsim rules --help)
  --warmup N          untimed passes before the first timed one of a *_BENCHMARK (default 1):
                      the first pass runs on cold JIT tiers and untouched host memory
  -h, --help          this text
exit status: 0, 1 when a verification or a GUP call fails, 2 on bad usage`;

// Options taking an argument, as in gup_test.c's optstring "m:r:n:F:f:abcj:tTLUuwWSHpz"
// (-f FILE, -j THREADS and -z are not supported: see parseGupTestArgs).
const WITH_ARG = new Set(['m', 'r', 'n', 'F']);
const FLAGS = new Set(['a', 'b', 'c', 'L', 'U', 'u', 'w', 'W', 'S', 'H', 'p', 't', 'T', 'h']);
const LONG = new Set(['backend', 'memory', 'thp', 'movable', 'cma', 'warmup', 'kernel', 'help']);
const LONG_WITH_ARG = new Set(['backend', 'memory', 'thp', 'movable', 'cma', 'warmup', 'kernel']);
const KERNELS: readonly string[] = [...PRESETS, ...ALIASES];
const MAX_MEMORY = 2 ** C.MAX_PFN_BITS * C.PAGE_SIZE; // what boot() accepts: 256 GiB

class UsageError extends Error {}

// A decimal int, as atoi() reads a well-formed one (garbage is refused).
function decimal(opt: string, s: string): number {
  if (!/^\s*[+-]?\d+$/.test(s)) throw new UsageError(`option -${opt}: '${s}' is not an integer`);
  const v = Number(s.trim());
  if (!Number.isSafeInteger(v)) throw new UsageError(`option -${opt}: '${s}' is out of range`);
  return v;
}

// strtol(s, NULL, 0): decimal, 0x hex or 0 octal, with an optional sign.
export function strtol0(what: string, s: string): number {
  const m = /^\s*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.exec(s);
  if (!m) throw new UsageError(`${what}: '${s}' is not a number (decimal, 0x hex or 0 octal)`);
  const body = m[2];
  const mag = /^0[xX]/.test(body) ? parseInt(body.slice(2), 16) : body.length > 1 && body[0] === '0' ? parseInt(body, 8) : Number(body);
  const v = m[1] === '-' ? -mag : mag;
  if (!Number.isSafeInteger(v)) throw new UsageError(`${what}: '${s}' is out of range`);
  return v;
}

function size(what: string, s: string, min: number, max = MAX_MEMORY): number {
  let bytes: number;
  try {
    bytes = /^\d+$/.test(s) ? Number(s) : parseSize(what, s);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (bytes % (4 * MB) !== 0) throw new UsageError(`${what} must be a multiple of 4MiB, got '${s}'`);
  if (bytes < min) throw new UsageError(`${what} must be at least ${min / MB}MiB, got '${s}'`);
  if (bytes > max) throw new UsageError(`${what} must be at most ${max / 1024 / MB}GiB, got '${s}'`);
  return bytes;
}

export function defaultOptions(): GupTestOptions {
  return {
    cmd: 'GUP_FAST_BENCHMARK', size: 128 * MB, nrPagesPerCall: 1, repeats: 1, warmup: 1, write: true,
    gupFlags: C.FOLL_WRITE, mapFlags: C.MAP_PRIVATE | C.MAP_ANONYMOUS, thp: -1,
    whichPages: new Array(GUP_TEST_MAX_PAGES_TO_DUMP).fill(0), testFlags: 0,
    backend: 'wasm', memory: null, thpMode: 'always', movable: 0, cma: 0, kernel: 'latest',
  };
}

export function parseGupTestArgs(argv: readonly string[]): ParseResult {
  try {
    return parse(argv);
  } catch (e) {
    if (e instanceof UsageError) return { ok: false, error: e.message };
    throw e;
  }
}

function parse(argv: readonly string[]): ParseResult {
  const o = defaultOptions();
  let rawFlags = 0; // gup.gup_flags before `if (write) gup.gup_flags |= FOLL_WRITE`
  let help = false;
  const operands: string[] = [];

  const short = (opt: string, arg: string) => {
    switch (opt) {
      case 'a': o.cmd = 'PIN_FAST_BENCHMARK'; break;
      case 'b': o.cmd = 'PIN_BASIC_TEST'; break;
      case 'L': o.cmd = 'PIN_LONGTERM_BENCHMARK'; break;
      case 'c':
        o.cmd = 'DUMP_USER_PAGES_TEST';
        o.whichPages[0] = 1; // page 0; the operands may override it
        break;
      case 'p': o.testFlags |= GUP_TEST_FLAG_DUMP_PAGES_USE_PIN; break;
      case 'F': {
        const v = strtol0('option -F', arg);
        if (v < -(2 ** 31) || v > 0xffffffff) throw new UsageError(`option -F: '${arg}' does not fit in 32 bits`);
        rawFlags = v >>> 0; // gup_flags is a __u32
        break;
      }
      case 'm': {
        const mib = decimal('m', arg);
        if (mib <= 0) throw new UsageError(`option -m: the size must be at least 1 MiB, got '${arg}'`);
        o.size = mib * MB;
        break;
      }
      case 'r': {
        const r = decimal('r', arg);
        // gup_test.c runs no ioctl at all for -r 0 (and reports a status it never set).
        if (r < 1) throw new UsageError(`option -r: repeats must be at least 1, got '${arg}'`);
        o.repeats = r;
        break;
      }
      case 'n': {
        const n = decimal('n', arg);
        if (n > 0xffffffff) throw new UsageError(`option -n: '${arg}' does not fit in 32 bits`);
        // As gup_test.c: a negative count means the size given so far, in one call.
        o.nrPagesPerCall = n < 0 ? o.size / C.PAGE_SIZE : n;
        break;
      }
      case 't': o.thp = 1; break;
      case 'T': o.thp = 0; break;
      case 'U': o.cmd = 'GUP_BASIC_TEST'; break;
      case 'u': o.cmd = 'GUP_FAST_BENCHMARK'; break;
      case 'w': o.write = true; break;
      case 'W': o.write = false; break;
      case 'S': o.mapFlags = (o.mapFlags & ~C.MAP_PRIVATE) | C.MAP_SHARED; break;
      case 'H': o.mapFlags |= C.MAP_HUGETLB | C.MAP_ANONYMOUS; break;
      case 'h': help = true; break;
    }
  };

  const long = (name: string, arg: string) => {
    switch (name) {
      case 'backend':
        if (arg !== 'wasm' && arg !== 'ts') throw new UsageError(`--backend must be wasm or ts, got '${arg}'`);
        o.backend = arg;
        break;
      case 'memory': o.memory = size('--memory', arg, 16 * MB); break;
      case 'movable': o.movable = size('--movable', arg, 0); break;
      case 'cma': o.cma = size('--cma', arg, 0); break;
      case 'thp':
        if (arg !== 'always' && arg !== 'madvise' && arg !== 'never') {
          throw new UsageError(`--thp must be always, madvise or never, got '${arg}'`);
        }
        o.thpMode = arg;
        break;
      case 'warmup': {
        const n = decimal('-warmup', arg);
        if (n < 0) throw new UsageError(`--warmup must not be negative, got '${arg}'`);
        o.warmup = n;
        break;
      }
      case 'kernel':
        if (!KERNELS.includes(arg)) throw new UsageError(`--kernel must be one of ${KERNELS.join(', ')}, got '${arg}'`);
        o.kernel = arg as KernelName;
        break;
      case 'help': help = true; break;
    }
  };

  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      operands.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
      if (!LONG.has(name)) throw new UsageError(`unrecognized option '${a}'`);
      let arg = '';
      if (LONG_WITH_ARG.has(name)) {
        if (eq >= 0) arg = a.slice(eq + 1);
        else if (i + 1 < argv.length) arg = argv[++i];
        else throw new UsageError(`option '--${name}' requires an argument`);
      } else if (eq >= 0) {
        throw new UsageError(`option '--${name}' doesn't allow an argument`);
      }
      long(name, arg);
      continue;
    }
    if (a.length < 2 || a[0] !== '-') {
      operands.push(a); // GNU getopt permutes operands to the end
      continue;
    }
    for (let j = 1; j < a.length; j++) {
      const opt = a[j];
      if (WITH_ARG.has(opt)) {
        let arg: string;
        if (j + 1 < a.length) arg = a.slice(j + 1);
        else if (i + 1 < argv.length) arg = argv[++i];
        else throw new UsageError(`option requires an argument -- '${opt}'`);
        short(opt, arg);
        break;
      }
      if (!FLAGS.has(opt)) {
        const why = opt === 'f' || opt === 'j' || opt === 'z'
          ? ` (gup_test.c's -${opt} is not supported by pinsim: ${opt === 'f' ? 'the mapping is always anonymous' : opt === 'j' ? 'one thread only' : 'no such test'})`
          : '';
        throw new UsageError(`invalid option -- '${opt}'${why}`);
      }
      short(opt, '');
    }
  }

  // Trailing operands: page indices to dump, 0-based on the command line and
  // stored 1-based in which_pages[] (0 means none), at most 8 (the rest are
  // ignored, as gup_test.c does).
  for (let k = 0; k < operands.length && k < GUP_TEST_MAX_PAGES_TO_DUMP; k++) {
    const idx = strtol0('page index', operands[k]);
    o.whichPages[k] = (idx + 1) >>> 0; // a __u32: -2 wraps and is zeroed later as out of range
  }

  o.gupFlags = (o.write ? rawFlags | C.FOLL_WRITE : rawFlags) >>> 0;
  if (o.movable + o.cma > 0 && o.memory !== null && o.movable + o.cma > o.memory - 8 * MB) {
    throw new UsageError('--movable + --cma must leave at least 8MiB of ZONE_NORMAL');
  }
  const ram = machineFor(o).memory;
  if (o.memory === null && ram > MAX_MEMORY) {
    throw new UsageError(`-m ${o.size / MB} needs a ${Math.ceil(ram / MB / 1024)}GiB machine (2 * size + 64MiB); pinsim boots at most ${MAX_MEMORY / 1024 ** 3}GiB`);
  }
  return { ok: true, options: o, help };
}

// The machine the run boots: RAM for the mapping twice over plus 64 MiB
// (page tables, the page-array arena's share, FOLL_LONGTERM targets), and
// for -H a 2 MiB hugetlb pool covering the mapping.
export function machineFor(o: GupTestOptions): { memory: number; hugepages2m: number } {
  const hugetlb = (o.mapFlags & C.MAP_HUGETLB) !== 0;
  const hugepages2m = hugetlb ? Math.ceil(o.size / (2 * MB)) : 0;
  const memory = o.memory ?? Math.ceil((o.size * 2 + 64 * MB + o.movable + o.cma) / (4 * MB)) * 4 * MB;
  return { memory, hugepages2m };
}
