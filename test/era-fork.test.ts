// Kernel eras, fork and pinned pages: shared before 5.9 (A4), copied for
// the child from 5.9 (PTEs and THPs, page cache too), hugetlb from 5.12,
// exclusive anon only from 5.19. S2 (fork + RDMA), its hugetlb variant,
// and S15 (the page-cache copy).
import { describe, expect, it } from 'vitest';
import type { Kernel, Task } from '../src/index';
import { Mm } from '../src/mm/mm';
import { BACKENDS, bootTest, anon, C, PAGE, RW, ANON_PRIVATE, codeOf } from './helpers';

const HPAGE = 2 * 1024 * 1024;
const RWR = C.IB_ACCESS_LOCAL_WRITE | C.IB_ACCESS_REMOTE_WRITE | C.IB_ACCESS_REMOTE_READ;
const A = 0xa;
const B = 0xb;
const CC = 0xc;
const copies = (k: Kernel): number => k.v.stats[C.COW_COPIES];

// S2 with the RDMA NIC: "A" written, an MR registered (a long-term R/W
// pin), fork with the child alive, the parent writes "B", the device reads
// then writes "C" through the MR; what the parent and the device see.
function rdmaFork(k: Kernel, t: Task, a: number, length: number, dontfork = false) {
  t.write(a, A);
  const nic = k.rdma();
  const mr = nic.reg_mr(nic.alloc_pd(t), a, length, RWR);
  if (dontfork) t.madvise(a, length, C.MADV_DONTFORK);
  const child = t.fork();
  t.write(a, B);
  const deviceRead = nic.remote_read(mr.rkey, a).word;
  nic.remote_write(mr.rkey, a, CC);
  return { parentReads: t.read(a), deviceRead, child };
}

describe.each(BACKENDS)('kernel eras: S2, fork + RDMA (%s core)', (backend) => {
  it('5.8: the parent misses the device data and the device reads stale data; 5.10 and later: coherent', async () => {
    // The child: on 5.8 it still maps the pinned page (and sees the device's
    // write); from 5.10 it has its own copy of "A".
    const rows = [['5.8', B, A, CC], ['5.10', CC, B, A], ['5.18', CC, B, A], ['latest', CC, B, A]] as const;
    for (const [kernel, parent, device, child] of rows) {
      const k = await bootTest(backend, { kernel, thp: 'never' });
      const t = k.spawn();
      const a = anon(t, 1);
      const r = rdmaFork(k, t, a, PAGE);
      expect([r.parentReads, r.deviceRead, r.child.read(a)], kernel).toEqual([parent, device, child]);
      expect(k.check(), kernel).toEqual([]);
    }
  });

  it('5.8 with MADV_DONTFORK (ibv_fork_init()): coherent', async () => {
    const k = await bootTest(backend, { kernel: '5.8', thp: 'never' });
    const t = k.spawn();
    const r = rdmaFork(k, t, anon(t, 1), PAGE, true);
    expect([r.parentReads, r.deviceRead]).toEqual([CC, B]);
  });

  it('pin_user_pages() variant: broken on 5.6, 5.7 and 5.8, fixed on 5.10; the child keeps "A" where it got a copy', async () => {
    for (const [kernel, fixed] of [['5.6', false], ['5.7', false], ['5.8', false], ['5.10', true]] as const) {
      const k = await bootTest(backend, { kernel, thp: 'never' });
      const t = k.spawn();
      const a = anon(t, 1);
      t.write(a, A);
      const pa = k.pageArray(1);
      expect(k.pin_user_pages(t, a, 1, C.FOLL_WRITE | C.FOLL_LONGTERM, pa)).toBe(1);
      const pinned = pa.get(0)!;
      const before = copies(k);
      const child = t.fork();
      expect(copies(k) - before, kernel).toBe(fixed ? 1 : 0); // copy_present_page() at fork
      expect(child.translate(a) === pinned, kernel).toBe(!fixed);
      t.write(a, B);
      k.dma_write(pinned, CC);
      expect(t.read(a), kernel).toBe(fixed ? CC : B);
      expect(child.read(a), kernel).toBe(fixed ? A : CC); // unfixed, the child maps what the device writes
      expect(t.translate(a) === pinned, kernel).toBe(fixed);
      k.unpin_user_pages(pa, 1);
      expect(k.check(), kernel).toEqual([]);
    }
  });

  it('rules.forkCopyPinned bisects it: 5.8 with the 5.9 fork copy is coherent, 5.10 without it is not', async () => {
    for (const [kernel, rule, parent] of [['5.8', 'pte+thp', CC], ['5.10', 'none', B]] as const) {
      const k = await bootTest(backend, { kernel, thp: 'never', rules: { forkCopyPinned: rule } });
      const t = k.spawn();
      expect(rdmaFork(k, t, anon(t, 1), PAGE).parentReads, kernel).toBe(parent);
    }
  });

  it('a pinned PMD THP: shared on 5.8; 5.10 splits it and copies 512 small pages into the child', async () => {
    for (const [kernel, fixed] of [['5.8', false], ['5.10', true]] as const) {
      const k = await bootTest(backend, { kernel, memory: '128MiB' });
      const t = k.spawn();
      const a = Math.ceil(anon(t, 1024) / HPAGE) * HPAGE;
      t.touch(a, HPAGE, { write: true });
      const head = t.translate(a)!;
      expect(k.page(head).order).toBe(C.HPAGE_PMD_ORDER);
      const pa = k.pageArray(1);
      expect(k.pin_user_pages(t, a, 1, C.FOLL_WRITE | C.FOLL_LONGTERM, pa)).toBe(1);
      const before = copies(k);
      const child = t.fork();
      expect(copies(k) - before, kernel).toBe(fixed ? 512 : 0);
      expect(k.page(child.translate(a + 5 * PAGE)!).order, kernel).toBe(fixed ? 0 : C.HPAGE_PMD_ORDER);
      t.write(a, B);
      k.dma_write(head, CC);
      expect(t.read(a), kernel).toBe(fixed ? CC : B);
      expect(t.translate(a + 5 * PAGE), kernel).toBe(head + 5); // 5.10: split, the parent keeps the THP's pages
      k.unpin_user_pages(pa, 1);
      expect(k.check(), kernel).toEqual([]);
    }
  });

  it('hugetlb: broken on 5.10 (not copied), fixed on 5.18 (copied); 5.18 without a free huge page: fork fails ENOMEM', async () => {
    for (const [kernel, parent] of [['5.10', B], ['5.18', CC], ['latest', CC]] as const) {
      const k = await bootTest(backend, { kernel, hugepages: { '2MiB': 4 } });
      const t = k.spawn();
      const a = t.mmap({ length: HPAGE, prot: RW, flags: ANON_PRIVATE | C.MAP_HUGETLB });
      t.write(a, 1);
      expect(rdmaFork(k, t, a, HPAGE).parentReads, kernel).toBe(parent);
    }
    const k = await bootTest(backend, { kernel: '5.18', hugepages: { '2MiB': 1 } });
    const t = k.spawn();
    const a = t.mmap({ length: HPAGE, prot: RW, flags: ANON_PRIVATE | C.MAP_HUGETLB });
    t.write(a, 1);
    expect(k.pin_user_pages(t, a, 1, C.FOLL_WRITE | C.FOLL_LONGTERM, k.pageArray(1))).toBe(1);
    expect(codeOf(() => t.fork())).toBe('ENOMEM');
    expect(k.tasks.length).toBe(1);
    const on510 = await bootTest(backend, { kernel: '5.10', hugepages: { '2MiB': 1 } });
    const u = on510.spawn();
    const b = u.mmap({ length: HPAGE, prot: RW, flags: ANON_PRIVATE | C.MAP_HUGETLB });
    u.write(b, 1);
    expect(on510.pin_user_pages(u, b, 1, C.FOLL_WRITE | C.FOLL_LONGTERM, on510.pageArray(1))).toBe(1);
    expect(codeOf(() => u.fork())).toBeUndefined(); // shared: nothing to allocate
  });
});

describe.each(BACKENDS)('kernel eras: S15, fork and a maybe-pinned page-cache page (%s core)', (backend) => {
  // A MAP_PRIVATE ext4 file of two pages: page 0 written (a COW copy: the
  // VMA has an anon_vma), page 1 read (the page-cache page); the mm has
  // pinned (another pin); page 1 held by a pin or by >= 1024 references.
  async function setup(kernel: '5.10' | '5.18' | '6.4', how: 'pin' | 'refs') {
    const k = await bootTest(backend, { kernel, thp: 'never' });
    const t = k.spawn();
    const f = k.createFile({ fs: 'ext4', size: 2 * PAGE });
    t.pwrite(t.open(f), PAGE, 77);
    const a = t.mmap({ length: 2 * PAGE, prot: RW, flags: C.MAP_PRIVATE, fd: t.open(f) });
    t.write(a, 1);
    expect(t.read(a + PAGE)).toBe(77);
    const cache = t.translate(a + PAGE)!;
    const other = anon(t, 1);
    t.write(other, 5);
    expect(k.pin_user_pages(t, other, 1, 0, k.pageArray(1))).toBe(1); // has_pinned
    if (how === 'pin') {
      expect(k.pin_user_pages(t, a + PAGE, 1, 0, k.pageArray(1))).toBe(1);
    } else {
      const ga = k.pageArray(1);
      for (let i = 0; i < C.GUP_PIN_COUNTING_BIAS; i++) expect(k.get_user_pages(t, a + PAGE, 1, 0, ga)).toBe(1);
    }
    expect(k.folio_maybe_dma_pinned(cache)).toBe(true);
    return { k, t, f, a, cache };
  }

  it('5.10 and 5.18 copy it into the child as anon (the child no longer sees the file); 6.4 shares it', async () => {
    for (const how of ['pin', 'refs'] as const) {
      for (const [kernel, copied] of [['5.10', true], ['5.18', true], ['6.4', false]] as const) {
        const { k, t, f, a, cache } = await setup(kernel, how);
        const before = copies(k);
        const child = t.fork();
        expect(copies(k) - before, `${kernel} ${how}`).toBe(copied ? 2 : 1); // the other pinned page is copied in every era
        expect(child.translate(a + PAGE) === cache, `${kernel} ${how}`).toBe(!copied);
        expect(k.page(child.translate(a + PAGE)!).flags.includes('anon'), `${kernel} ${how}`).toBe(copied);
        t.pwrite(t.open(f), PAGE, 88); // a later write to the file
        expect(child.read(a + PAGE), `${kernel} ${how}`).toBe(copied ? 77 : 88);
        expect(t.read(a + PAGE), `${kernel} ${how}`).toBe(88);
        // (1024 references read as a pin: k.check()'s vmstat rule has the same false positive)
        if (how === 'pin') expect(k.check(), `${kernel} ${how}`).toEqual([]);
      }
    }
  });

  it('a pinned hugetlbfs page-cache page in a private mapping: shared on 5.10, copied on 5.18 (hugetlb too), shared on 6.4', async () => {
    for (const [kernel, copied] of [['5.10', false], ['5.18', true], ['6.4', false]] as const) {
      const k = await bootTest(backend, { kernel, hugepages: { '2MiB': 4 } });
      const f = k.createFile({ fs: 'hugetlbfs', size: '2MiB' });
      const t = k.spawn();
      const s = t.mmap({ length: HPAGE, prot: RW, flags: C.MAP_SHARED, fd: t.open(f) });
      t.write(s, 33); // the file's page
      const a = t.mmap({ length: HPAGE, prot: RW, flags: C.MAP_PRIVATE, fd: t.open(f) });
      expect(t.read(a)).toBe(33);
      const cache = t.translate(a)!;
      expect(k.page(cache).flags).not.toContain('anon');
      expect(k.pin_user_pages(t, a, 1, 0, k.pageArray(1))).toBe(1);
      const child = t.fork();
      expect(child.translate(a) === cache, kernel).toBe(!copied);
      expect(k.page(child.translate(a)!).flags.includes('anon'), kernel).toBe(copied);
      expect(child.read(a), kernel).toBe(33);
      expect(k.check(), kernel).toEqual([]);
    }
  });

  // pinsim's fork copies the page tables of a VMA only when it has an
  // anon_vma (vma_needs_copy()), so the child always has one: the oops of
  // __page_set_anon_rmap() is reached here through the core, with a child
  // VMA set up without one (a VM_MIXEDMAP or pre-5.16 hugetlb VMA in Linux).
  it('the copy into a child VMA without an anon_vma is the BUG of 5.9-5.18; 6.4 shares the page', async () => {
    for (const [kernel, bug] of [['5.10', true], ['5.18', true], ['6.4', false]] as const) {
      const { k, t, a } = await setup(kernel, 'pin');
      const vma = t.mm.vmas.find((v) => v.start === a)!;
      const child = new Mm(k, k.core.mm_alloc());
      const copy = vma.clone();
      copy.anonVma = null;
      child.vmas.push(copy);
      child.prepare(copy);
      const r = k.core.copy_page_range(t.mm.pgd, child.pgd, a / PAGE, 2, true);
      expect(r, kernel).toBe(bug ? C.FORK_BUG_NO_ANON_VMA : 0);
    }
  });

  it('a fork that hits the BUG prints the oops, throws KernelBug and halts the machine', async () => {
    const { k, t, a } = await setup('5.10', 'pin');
    // The child VMA loses its anon_vma on the way (what pinsim's fork never does by itself).
    const v = t.mm.vmas.find((x) => x.start === a)!;
    const prepare = Mm.prototype.prepare;
    Mm.prototype.prepare = function (this: Mm, vma) {
      if (vma !== v && vma.start === a) vma.anonVma = null;
      return prepare.call(this, vma);
    };
    let err: unknown;
    try {
      t.fork();
    } catch (e) {
      err = e;
    } finally {
      Mm.prototype.prepare = prepare;
    }
    expect((err as { code?: string }).code).toBe('EKERNELBUG');
    const log = k.dmesg().join('\n');
    expect(log).toContain('kernel BUG at mm/rmap.c:1044!');
    expect(log).toContain('RIP: 0010:__page_set_anon_rmap');
    expect(log).toContain(`PID: ${t.pid} Comm: ${t.name}`);
    expect(log).not.toContain('core failure');
    expect(() => t.read(a)).toThrow(/unusable after a kernel BUG/);
  });
});
