// A read-only long-term pin, then the owner writes (kernel-history.md §6.3
// S3, S3b). The device should read what the process wrote; it reads a
// stale page when the write fault copies away from the pinned one.
// S3: the page is still shared with a live child. 5.8's forced COW in GUP
// (17839856fd58) made it coherent by accident; 5.9 dropped that
// (a308c71bf1e6); 5.19 unshares before a R/O pin (a7f226604170).
// S3b: the child exited first, so the parent owns the page alone but its
// PTE is still write-protected. Reuse by mapcount (≤ 5.8) kept the pinned
// page; reuse by page count (5.9's 09854ba94c6a) copies it because of the
// pin itself: a regression until PG_anon_exclusive (6c287605fd56, 5.19).
import * as C from '../../../assembly/constants';
import type { KernelName } from '../../eras/presets';
import type { Task } from '../../task';
import { word } from '../look';
import type { Reference, Scenario, ScenarioCtx } from '../types';
import { driverPin, spawnWithBuffer } from './lib';

const PAGE = C.PAGE_SIZE;
const [A, B] = [0x41, 0x42];

const parent = (c: ScenarioCtx): Task => c.tasks.get('parent')!;
const buf = (c: ScenarioCtx): number => c.vars.buf as number;
const pinned = (c: ScenarioCtx): number => c.vars.pinned as number;

const REFS: Reference[] = [
  { label: 'LWN: get_user_pages() and COW, 2022 edition', url: 'https://lwn.net/Articles/895439/' },
  { label: 'a7f226604170 mm/gup: trigger FAULT_FLAG_UNSHARE when R/O-pinning a possibly shared anonymous page (5.19)', url: 'https://git.kernel.org/linus/a7f226604170' },
  { label: '6c287605fd56 mm: remember exclusively mapped anonymous pages with PG_anon_exclusive (5.19)', url: 'https://git.kernel.org/linus/6c287605fd56' },
];

// A fault GUP took that reused the page in place (pinsim keeps the
// exclusive bit in every era; before 5.19 nothing reads it).
const reusedBy = (c: ScenarioCtx): string => (c.k.rules.gupBreaksCow.value
  ? ', after its forced write fault reused it in place (mapcount 1)'
  : ', after an unshare fault reused it and marked it PG_anon_exclusive');

function roPin(id: string, childLives: boolean, presets: KernelName[], title: string, refs: Reference[]): Scenario {
  return {
    id, title, refs, presets,
    boot: { memory: '64MiB', thp: 'never' },
    steps: [
      {
        narration: "The process writes 'A' into an anonymous page.",
        action: (c) => {
          c.vars.buf = spawnWithBuffer(c, 'parent', 'app', PAGE);
          parent(c).write(buf(c), A);
          return `mmap() = 0x${buf(c).toString(16)}: pfn ${parent(c).translate(buf(c))}`;
        },
      },
      childLives ? {
        narration: 'It forks a child that stays alive: the page is shared copy-on-write.',
        action: (c) => {
          c.tasks.set('child', parent(c).fork());
          return `fork(): both map pfn ${parent(c).translate(buf(c))}, write-protected`;
        },
        look: [{ kind: 'frames', title: 'the page', pfns: (c) => [parent(c).translate(buf(c))!] }],
      } : {
        narration: 'It forks a child that exits at once: the page is mapped once again, but its PTE stays write-protected.',
        action: (c) => {
          parent(c).fork().exit();
          return `fork(); the child exits: pfn ${parent(c).translate(buf(c))} has mapcount ${c.k.page(parent(c).translate(buf(c))!).mapcount}`;
        },
        look: [{ kind: 'frames', title: 'the page', pfns: (c) => [parent(c).translate(buf(c))!] }],
      },
      {
        narration: 'A driver pins the page read-only and long-term for a device that will read it (no FOLL_WRITE).',
        action: (c) => {
          const before = parent(c).translate(buf(c));
          const exclusive = (): boolean => c.k.page(parent(c).translate(buf(c))!).flags.includes('anon_exclusive');
          const wasExclusive = exclusive();
          const r = driverPin(c, parent(c), buf(c), C.FOLL_LONGTERM);
          c.vars.pinned = r.pfn;
          return [
            `${r.line}: pfn ${pinned(c)}`,
            pinned(c) === before ? `GUP took the page as mapped${!wasExclusive && exclusive() ? reusedBy(c) : ''}`
              : c.k.rules.gupBreaksCow.value ? `GUP broke COW first (a write fault): the process maps its own copy, pfn ${pinned(c)}, writable`
                : `GUP unshared it first (FAULT_FLAG_UNSHARE): the process maps its own copy, pfn ${pinned(c)}, exclusive`,
          ];
        },
        look: [{ kind: 'frames', title: 'the pinned frame', pfns: (c) => [pinned(c)] }],
      },
      {
        narration: "The process writes 'B'; if its PTE is still write-protected, the write fault must choose: reuse the pinned page or copy it.",
        action: (c) => {
          parent(c).write(buf(c), B);
          const now = parent(c).translate(buf(c));
          return now === pinned(c) ? 'the write lands in the pinned page' : `COW copy: the process now maps pfn ${now}; the pin still holds pfn ${pinned(c)}`;
        },
        look: [
          { kind: 'ptes', title: 'the process', task: 'parent', addr: buf, pages: 1 },
          { kind: 'frames', title: 'the pinned frame', pfns: (c) => [pinned(c)] },
        ],
      },
      {
        narration: 'The device reads the buffer through the pin.',
        action: (c) => {
          c.vars.deviceReads = c.k.dma_read(pinned(c));
          return `DMA read: ${word(c.vars.deviceReads as number)}; the process reads ${word(parent(c).read(buf(c)))}`;
        },
      },
    ],
    outcome: (c) => {
      const deviceReads = c.vars.deviceReads as number;
      const parentReads = parent(c).read(buf(c));
      const coherent = deviceReads === parentReads && parent(c).translate(buf(c)) === pinned(c);
      return {
        summary: coherent ? "coherent: the device reads the process's 'B'" : `stale: the device reads ${word(deviceReads)} from a page the process no longer maps`,
        values: { coherent, deviceReads: word(deviceReads), parentReads: word(parentReads) },
      };
    },
  };
}

export const roPinStale = roPin('ro-pin-stale', true, ['5.10', '6.4', '5.8'],
  'A read-only pin of a page shared with a live child: the device reads stale data after the parent writes', [
    ...REFS,
    { label: "17839856fd58 gup: document and work around 'COW can break either way' issue (5.8: coherent by accident)", url: 'https://git.kernel.org/linus/17839856fd58' },
  ]);

export const roPinSoleOwner = roPin('ro-pin-sole-owner', false, ['5.10', '5.8', '6.4'],
  'A read-only pin by the sole owner of a write-protected page: the 5.9 COW rewrite made it stale', [
    ...REFS,
    { label: '09854ba94c6a mm: do_wp_page() simplification (5.9: reuse by page count)', url: 'https://git.kernel.org/linus/09854ba94c6a' },
    { label: 'LWN: Patching until the COWs come home (part 2)', url: 'https://lwn.net/Articles/849876/' },
  ]);
