// open-gpu-kernel-modules #563: when pin_user_pages() failed, the driver
// fell back to a plain reference (FOLL_GET) but released every page with
// unpin_user_page(), which subtracts GUP_PIN_COUNTING_BIAS (1024) where
// one reference was taken: the refcount goes negative and the host
// crashes. pinsim refuses the unpin with a WARN and, with tracking on,
// says which call took the reference; put_page() is the right release.
// Why the pin failed is a choice (UNVERIFIED): the report names only "a
// special file" on RHEL 8.8's 4.18; here it is today's refusal of a
// long-term pin of a shared ext4 page.
import * as C from '../../../assembly/constants';
import type { Scenario, ScenarioCtx } from '../types';
import { needsPinApi, hex, ret, spawn, task, v } from './lib';

const pfn = (c: ScenarioCtx): number => v<number>(c, 'pfn');
const buf = (c: ScenarioCtx): number => v<number>(c, 'buf');
const frame = [{ kind: 'frames' as const, title: 'the registered page', pfns: (c: ScenarioCtx) => [pfn(c)] }];

export const getUnpinMisuse: Scenario = {
  id: 'get-unpin-misuse',
  title: 'a FOLL_GET reference released with unpin_user_page(): the refcount loses 1024',
  refs: [
    { label: 'NVIDIA open-gpu-kernel-modules #563: pin and unpin pages lead to host crash', url: 'https://github.com/NVIDIA/open-gpu-kernel-modules/issues/563' },
    { label: 'Documentation/core-api/pin_user_pages.rst', url: 'https://docs.kernel.org/core-api/pin_user_pages.html' },
  ],
  presets: ['latest'],
  requires: needsPinApi,
  boot: { memory: '64MiB', track: true },
  steps: [
    {
      narration: 'A CUDA application maps a page of an ext4 file MAP_SHARED and writes it.',
      action: (c) => {
        const t = spawn(c, 'cuda-app');
        const fd = t.open(c.k.createFile({ fs: 'ext4', size: C.PAGE_SIZE, name: 'weights' }));
        c.vars.buf = t.mmap({ length: C.PAGE_SIZE, prot: C.PROT_READ | C.PROT_WRITE, flags: C.MAP_SHARED, fd });
        t.write(buf(c), 0x5a);
        c.vars.pfn = t.translate(buf(c))!;
        return `mmap(MAP_SHARED, /mnt/ext4/weights) = ${hex(buf(c))}; the page is pfn ${pfn(c)}`;
      },
      look: frame,
    },
    {
      narration: 'The driver registers it (cudaHostRegister): a long-term pin of a shared ext4 page is refused.',
      action: (c) => {
        const pages = c.k.pageArray(1);
        const r = c.k.withCaller('nv_register', () => c.k.pin_user_pages_fast(task(c, 'cuda-app'), buf(c), 1, C.FOLL_WRITE | C.FOLL_LONGTERM, pages));
        pages.free();
        c.vars.pinResult = r;
        return `pin_user_pages_fast(buf, 1, FOLL_WRITE | FOLL_LONGTERM) = ${ret(r)}`;
      },
      look: frame,
    },
    {
      narration: 'It falls back to get_user_pages_fast(): one plain reference (FOLL_GET), not a pin.',
      action: (c) => {
        const pages = c.k.pageArray(1);
        const r = c.k.withCaller('nv_register_fallback', () => c.k.get_user_pages_fast(task(c, 'cuda-app'), buf(c), 1, C.FOLL_WRITE, pages));
        pages.free();
        c.vars.refcountHeld = c.k.page(pfn(c)).refcount;
        return `get_user_pages_fast(buf, 1, FOLL_WRITE) = ${r}: refcount ${c.vars.refcountHeld}, not maybe-DMA-pinned`;
      },
      look: frame,
    },
    {
      narration: 'At unregister the driver calls unpin_user_page() on every page, whatever took it.',
      action: (c) => {
        c.k.unpin_user_page(pfn(c));
        c.vars.refcountAfterUnpin = c.k.page(pfn(c)).refcount;
        return `unpin_user_page(pfn ${pfn(c)}): the kernel would subtract ${C.GUP_PIN_COUNTING_BIAS}; pinsim refuses, refcount stays ${c.vars.refcountAfterUnpin}`;
      },
      look: frame,
    },
    {
      narration: 'The fix the report proposes: remember how each page was taken and release a FOLL_GET page with put_page().',
      action: (c) => {
        c.k.put_page(pfn(c));
        const bad = c.k.check();
        c.vars.checkAfterPut = bad.length;
        return [`put_page(pfn ${pfn(c)}): refcount ${c.k.page(pfn(c)).refcount}`, `k.check(): ${bad.length ? bad.map((b) => b.rule).join(', ') : 'no violations'}`];
      },
      look: [...frame, { kind: 'counters', title: 'references on record', values: (c) => ({ 'k.pins()': c.k.pins().length }) }],
    },
  ],
  outcome: (c) => {
    const held = v<number>(c, 'refcountHeld');
    const warned = c.k.dmesg().some((l) => l.startsWith('WARNING:') && l.includes('gup_put_folio'));
    return {
      summary: `the unpin would take _refcount ${held} - ${C.GUP_PIN_COUNTING_BIAS} = ${held - C.GUP_PIN_COUNTING_BIAS}: refused with a WARN${warned ? '' : ' (missing!)'}; put_page() released it cleanly`,
      values: {
        pinResult: v<number>(c, 'pinResult'), refcountHeld: held, wouldBe: held - C.GUP_PIN_COUNTING_BIAS,
        refcountAfterUnpin: v<number>(c, 'refcountAfterUnpin'), warned, violationsAfterPut: v<number>(c, 'checkAfterPut'),
      },
    };
  },
};
