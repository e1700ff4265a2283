// The kernel side of gup_test: mm/gup_test.c's __gup_test_ioctl(), with
// verify_dma_pinned(), dump_pages_test() and put_back_pages(), on pinsim's
// public GUP API. Times come from performance.now() (ktime_get()).
import * as C from '../../assembly/constants';
import type { Kernel } from '../devices/kernel';
import type { PageArray } from '../gup/page-array';
import type { Task } from '../task';
import { errnoName, fail } from '../errors';
import { GUP_TEST_FLAG_DUMP_PAGES_USE_PIN, GUP_TEST_MAX_PAGES_TO_DUMP, type GupTestCmd } from './options';

const PAGE = C.PAGE_SIZE;

// struct gup_test, as user space fills it in.
export interface GupTestArgs {
  addr: number;
  size: number; // bytes
  nrPagesPerCall: number;
  gupFlags: number;
  testFlags: number;
  whichPages: readonly number[]; // 1-based, 0 = none
}

// struct gup_test as the ioctl hands it back, plus what pinsim measures.
export interface GupTestIoctlResult {
  getDeltaUsec: number; // ktime_us_delta() of the get loop
  putDeltaUsec: number;
  size: number; // bytes covered before the loop stopped (== args.size unless truncated)
  nrPages: number; // pages obtained (and released)
  calls: number; // GUP calls made
  getNs: number; // the get loop, in ns (not truncated to µs)
  putNs: number;
  error: { ret: number; errno: string; call: number; addr: number; nr: number } | null; // a negative GUP return
  verifyFailed: boolean; // verify_dma_pinned() WARNed
  log: string[]; // what the kernel side printed (WARN, dump_page(), pr_info/pr_warn), in order
}

const hex = (n: number) => `0x${n.toString(16)}`;

// GUP calls timed per batch: the `pages + i` views of a batch are made untimed.
const VIEW_BATCH = 4096;

// The GUP call each command makes (the switch in __gup_test_ioctl()): one
// function per kind of call for every ioctl, so that the timed loop's call
// site stays monomorphic and V8 inlines the GUP entry point into it.
type GupCall = (k: Kernel, t: Task, a: number, n: number, f: number, p: PageArray) => number;
const GUP_FAST: GupCall = (k, t, a, n, f, p) => k.get_user_pages_fast(t, a, n, f, p);
const GUP: GupCall = (k, t, a, n, f, p) => k.get_user_pages(t, a, n, f, p);
const PIN_FAST: GupCall = (k, t, a, n, f, p) => k.pin_user_pages_fast(t, a, n, f, p);
const PIN: GupCall = (k, t, a, n, f, p) => k.pin_user_pages(t, a, n, f, p);
const PIN_LONGTERM: GupCall = (k, t, a, n, f, p) => k.pin_user_pages(t, a, n, f | C.FOLL_LONGTERM, p);

function gupCall(cmd: GupTestCmd, testFlags: number): GupCall {
  switch (cmd) {
    case 'GUP_FAST_BENCHMARK': return GUP_FAST;
    case 'GUP_BASIC_TEST': return GUP;
    case 'PIN_FAST_BENCHMARK': return PIN_FAST;
    case 'PIN_BASIC_TEST': return PIN;
    case 'PIN_LONGTERM_BENCHMARK': return PIN_LONGTERM;
    case 'DUMP_USER_PAGES_TEST': return testFlags & GUP_TEST_FLAG_DUMP_PAGES_USE_PIN ? PIN : GUP;
  }
}

function usesPin(cmd: GupTestCmd, testFlags: number): boolean {
  return cmd === 'PIN_FAST_BENCHMARK' || cmd === 'PIN_BASIC_TEST' || cmd === 'PIN_LONGTERM_BENCHMARK'
    || (cmd === 'DUMP_USER_PAGES_TEST' && (testFlags & GUP_TEST_FLAG_DUMP_PAGES_USE_PIN) !== 0);
}

// dump_page(page, reason), as the kernel prints it.
function dumpPage(k: Kernel, pfn: number, reason: string): string[] {
  return [...k.dump_page(pfn).split('\n'), `page dumped because: ${reason}`];
}

// Where the timed get loop stands: addr of the next call, nr pages it asks
// (while every call returns nr_pages_per_call, call c fills pages + c *
// nr_pages_per_call; the first call that does not ends the loop), i pages
// obtained, c calls made.
interface GetCursor {
  addr: number;
  nr: number;
  i: number;
  c: number;
  error: GupTestIoctlResult['error'];
}

// One batch of the timed loop, one call per view. A function of its own:
// inside gupTestIoctl() V8's inlining budget is spent, so the GUP entry
// point stayed a call of its own.
function getBatch(call: GupCall, k: Kernel, t: Task, flags: number, end: number, views: PageArray[], cur: GetCursor): void {
  const perCall = cur.nr; // a batch starts only while every call returned nr_pages_per_call
  let { addr, nr, i, c } = cur;
  let next = addr;
  for (let j = 0; j < views.length && addr < end; addr = next, j++) {
    if (nr !== perCall) break;
    next = addr + nr * PAGE;
    if (next > end) {
      next = end;
      nr = (next - addr) / PAGE;
    }
    const asked = nr;
    nr = call(k, t, addr, nr, flags, views[j]);
    if (nr <= 0) {
      if (nr < 0) cur.error = { ret: nr, errno: errnoName(-nr), call: c, addr, nr: asked };
      break;
    }
    c++;
    i += nr;
  }
  cur.addr = addr;
  cur.nr = nr;
  cur.i = i;
  cur.c = c;
}

export function gupTestIoctl(k: Kernel, t: Task, cmd: GupTestCmd, gup: GupTestArgs): GupTestIoctlResult {
  // Before 5.6 there is nothing to pin with: the tool's PIN commands are
  // unknown ioctls (gup_benchmark's -EINVAL), refused before anything runs.
  if (usesPin(cmd, gup.testFlags) && !k.kr.pinApi) {
    throw fail('ioctl', C.EINVAL, `gup_test ${cmd}: no such command in kernel ${k.kernel} (pin_user_pages*() came in 5.6, eddb1c228f79)`);
  }
  const log: string[] = [];
  const printk = (line: string) => {
    log.push(line);
    k.printk(line);
  };
  const end = gup.addr + gup.size;
  const total = Math.floor(gup.size / PAGE);
  const perCall = gup.nrPagesPerCall;
  const call = gupCall(cmd, gup.testFlags);

  // kvcalloc(nr_pages); each call fills `pages + i`.
  const pages = k.pageArray(total);

  // The timed get loop, as in __gup_test_ioctl(). In C `pages + i` is free
  // pointer arithmetic; here it is a PageArray object, so each batch of
  // calls gets its views made before its timing starts.
  const cur: GetCursor = { addr: gup.addr, nr: perCall, i: 0, c: 0, error: null };
  const views: PageArray[] = [];
  let getMs = 0;
  while (cur.addr < end && cur.nr === perCall) {
    views.length = 0;
    for (let j = 0; j < VIEW_BATCH && cur.i + j * perCall < total; j++) views.push(pages.subarray(cur.i + j * perCall));
    const g0 = performance.now();
    getBatch(call, k, t, gup.gupFlags, end, views, cur);
    getMs += performance.now() - g0;
    if (cur.nr <= 0) break;
  }
  const { i, addr, c, nr, error } = cur;
  const nrPages = i;
  const size = addr - gup.addr;
  if (error) {
    // pinsim: gup_test.c ignores a failed call (the size shows it); say why.
    printk(`gup_test: ${cmd}: GUP call ${error.call} (addr ${hex(error.addr)}, ${error.nr} pages) returned ${error.ret} (-${error.errno})`);
  }

  const pfns = pages.pfns.subarray(0, nrPages);

  // verify_dma_pinned(): untimed.
  let verifyFailed = false;
  if (cmd === 'PIN_FAST_BENCHMARK' || cmd === 'PIN_BASIC_TEST' || cmd === 'PIN_LONGTERM_BENCHMARK') {
    for (let j = 0; j < nrPages; j++) {
      let why = '';
      if (!k.folio_maybe_dma_pinned(pfns[j])) why = `pages[${j}] is NOT dma-pinned`;
      else if (cmd === 'PIN_LONGTERM_BENCHMARK' && !k.folio_is_longterm_pinnable(pfns[j])) {
        why = `pages[${j}] is NOT pinnable but pinned`;
      }
      if (why) {
        verifyFailed = true;
        printk(why);
        printk(`WARNING: CPU: 0 PID: ${t.pid} at mm/gup_test.c: verify_dma_pinned`);
        for (const line of dumpPage(k, k.page(pfns[j]).head, 'gup_test failure')) printk(line);
        break;
      }
    }
  }

  // dump_pages_test()
  if (cmd === 'DUMP_USER_PAGES_TEST') {
    const which = [...gup.whichPages];
    for (let j = 0; j < GUP_TEST_MAX_PAGES_TO_DUMP; j++) {
      if (which[j] > nrPages) {
        printk(`ZEROING due to out of range: .which_pages[${j}]: ${which[j]}`);
        which[j] = 0;
      }
    }
    for (let j = 0; j < GUP_TEST_MAX_PAGES_TO_DUMP; j++) {
      if (!which[j]) continue;
      const index = which[j] - 1; // decode from 1-based
      printk(`---- page #${index}, starting from user virt addr: ${hex(gup.addr)}`);
      for (const line of dumpPage(k, pfns[index], 'gup_test: dump_pages() test')) printk(line);
    }
  }

  // put_back_pages(): timed.
  const pin = usesPin(cmd, gup.testFlags);
  const p0 = performance.now();
  if (pin) {
    k.unpin_user_pages(pages, nrPages);
  } else {
    for (let j = 0; j < nrPages; j++) k.put_page(pfns[j]);
  }
  const p1 = performance.now();

  pages.free(); // kvfree(pages)
  return {
    getDeltaUsec: Math.trunc(getMs * 1000), putDeltaUsec: Math.trunc((p1 - p0) * 1000),
    size, nrPages, calls: c + (nr <= 0 ? 1 : 0), getNs: getMs * 1e6, putNs: (p1 - p0) * 1e6,
    error, verifyFailed, log,
  };
}
