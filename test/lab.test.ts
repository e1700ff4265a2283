// The browser lab (lab/, built into build/lab/ by scripts/lab.mjs) in a real
// Chromium: it loads with no console errors, plays fork-rdma to the end
// through the UI on 5.8 and on 5.10 (chosen with the preset chooser), in
// single and compare view, checks the narration, the counters and the
// colours of known frames on the canvas, drives the free-play console, and
// times first paint, a 64 GiB redraw and a scenario step. Screenshots go to
// build/lab/screenshots/.
//
// Needs Debian's chromium (skipped locally without it, fails in CI) and a
// built lab (npm run build, or node scripts/lab.mjs --build-only).
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { CHROMIUM, hasChromium, inCI, withChromium, type Route } from './chromium';
import { forkRdma } from '../src/scenarios/catalog/fork-rdma';
import { SCENARIOS } from '../src/scenarios/index';
import { STATES } from '../lab/palette';
import { C } from './helpers';

const LAB = fileURLToPath(new URL('../build/lab/', import.meta.url));
const SHOTS = `${LAB}screenshots/`;

// The lab at / and under /some/dir/: relative URLs work from any static host.
const SUBDIR = '/some/dir/';
const route: Route = (path) => {
  const p = path.startsWith(SUBDIR) ? path.slice(SUBDIR.length - 1) : path;
  const f = LAB + (p === '/' ? 'index.html' : p.slice(1));
  return !p.includes('..') && existsSync(f) ? { file: f } : null;
};

// The colour a state's frame has when fully in use (a single frame is).
const colour = (state: number) => STATES[state].colour;

interface LabWindow {
  __lab: {
    ready: boolean;
    firstPaintMs: number;
    scriptMs: number;
    player: {
      players: { ctx: { vars: Record<string, unknown>; tasks: Map<string, { translate(a: number): number | null }> } }[];
      panes: { map: { cellOf(pfn: number): { x: number; y: number; size: number } | null; draw(): void; lastDrawMs: number } }[];
      stepMs: number[];
      actionMs: number[];
    };
    play: { pane: { map: { fit(): void; draw(): void; lastDrawMs: number; per: number; cell: number } } };
  };
}

async function open(page: Page, base: string, hash = ''): Promise<string[]> {
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.stack ?? e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console.error: ${m.text()}`); });
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()}`));
  await page.setViewportSize({ width: 1280, height: 1500 });
  await page.goto(`${base}/${hash}`);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
  return problems;
}

// The colour of the canvas pixel inside pfn's cell of pane i (away from the
// glyph in its middle and the pageblock edge at its left), as #rrggbb.
async function frameColour(page: Page, pane: number, pfn: number): Promise<string> {
  return page.evaluate(([i, p]) => {
    const w = window as unknown as LabWindow;
    const cell = w.__lab.player.panes[i].map.cellOf(p);
    if (!cell) return 'out of view';
    const canvas = document.querySelector<HTMLCanvasElement>(`#pane-${i}-map`)!;
    const d = canvas.getContext('2d')!.getImageData(cell.x + 2, cell.y + 2, 1, 1).data;
    return `#${[d[0], d[1], d[2]].map((v) => v.toString(16).padStart(2, '0')).join('')}`;
  }, [pane, pfn] as const);
}

// A frame of the scenario: the MR's pinned frame, or what a task maps at buf.
function frame(page: Page, pane: number, which: 'pinned' | 'parent' | 'child'): Promise<number> {
  return page.evaluate(([i, wh]) => {
    const ctx = (window as unknown as LabWindow).__lab.player.players[i].ctx;
    return wh === 'pinned' ? ctx.vars.pinned as number : ctx.tasks.get(wh)!.translate(ctx.vars.buf as number)!;
  }, [pane, which] as const);
}

const counter = (page: Page, pane: number, name: string) =>
  page.locator(`#pane-${pane} [data-counter="${name}"] .value`).textContent();

async function stepThrough(page: Page, by: 'click' | 'key'): Promise<void> {
  for (let i = 0; i < forkRdma.steps.length; i++) {
    if (by === 'click') await page.click('#step');
    else await page.keyboard.press('ArrowRight');
    await expect.poll(() => page.locator('#position').textContent()).toBe(`step ${i + 1} of ${forkRdma.steps.length}`);
    expect(await page.locator('#narration').textContent()).toBe(forkRdma.steps[i].narration);
  }
}

describe('npm run lab', () => {
  it('refuses bad usage with one line and exit status 2', () => {
    const r = spawnSync(process.execPath, ['scripts/lab.mjs', '--port', 'x'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toBe("lab: --port must be 0..65535, got 'x'\n");
    const u = spawnSync(process.execPath, ['scripts/lab.mjs', '--nope'], { encoding: 'utf8' });
    expect(u.status).toBe(2);
    expect(u.stderr).toMatch(/^lab: Unknown option '--nope'/);
  });
});

// Locally without Chromium the browser tests are skipped; in CI they fail.
const skip = !hasChromium && !inCI;
const note = hasChromium ? '' : ` (skipped: ${CHROMIUM} not found; apt-get install chromium)`;

function ready(): void {
  if (!hasChromium) throw new Error(`${CHROMIUM} not found, and CI is set: CI must install Debian's chromium`);
  if (!existsSync(`${LAB}lab.js`)) throw new Error(`${LAB} has no lab.js: build first (npm run build, or node scripts/lab.mjs --build-only)`);
  mkdirSync(SHOTS, { recursive: true });
}

describe('the browser lab (Chromium, build/lab/)', () => {
  it.skipIf(skip)(`plays fork-rdma on 5.8 and 5.10, compares them, and hovers a frame${note}`, { timeout: 240_000 }, async () => {
    ready();
    await withChromium(route, async (page, base, requests) => {
      const problems = await open(page, base);
      expect(await page.locator('#pane-0 .pane-title').textContent()).toBe('fork-rdma on 5.8');

      // 5.8, step by step with the Step button: the parent's write moves it
      // off the pinned frame; the peer's 'C' lands where only the MR looks.
      await page.selectOption('#preset', '5.8');
      await expect.poll(() => page.locator('#position').textContent()).toBe('step 0 of 5');
      await stepThrough(page, 'click');
      expect(await page.locator('#outcome').textContent()).toContain('5.8: silent data loss');
      expect(await counter(page, 0, 'nr_foll_pin_acquired')).toBe('1');
      expect(await counter(page, 0, 'nr_foll_pin_released')).toBe('0');
      expect(await counter(page, 0, 'parent VmPin kB')).toBe('4');
      const pinned = await frame(page, 0, 'pinned');
      const parent = await frame(page, 0, 'parent');
      expect(parent).not.toBe(pinned);
      expect(await frame(page, 0, 'child')).toBe(pinned);
      expect(await frameColour(page, 0, pinned)).toBe(colour(C.FRAME_LONGTERM));
      expect(await frameColour(page, 0, parent)).toBe(colour(C.FRAME_ANON));
      expect(await frameColour(page, 0, parent + 1)).toBe(colour(C.FRAME_FREE));
      // Hovering the pinned frame names its state and shows dump_page() and who pins it.
      const box = (await page.locator('#pane-0-map').boundingBox())!;
      const cell = (await page.evaluate((p) => (window as unknown as LabWindow).__lab.player.panes[0].map.cellOf(p), pinned))!;
      await page.mouse.move(box.x + cell.x + cell.size / 2, box.y + cell.y + cell.size / 2);
      const info = await page.locator('#pane-0 .frame-info').textContent();
      expect(info).toContain(`pfn ${pinned} (0x${pinned.toString(16)}): long-term pinned`);
      expect(info).toMatch(/^page: refcount:1025 mapcount:1 /m);
      expect(info).toMatch(/held by \w+ \(FOLL_LONGTERM, pid 1 rdma-app, mlx5_0\)/);
      await page.screenshot({ path: `${SHOTS}fork-rdma-5.8.png`, fullPage: true });

      // Back one step and forward again with the keyboard: same end.
      await page.click('#back');
      await expect.poll(() => page.locator('#position').textContent()).toBe('step 4 of 5');
      await page.keyboard.press('ArrowRight');
      await expect.poll(() => page.locator('#outcome').textContent()).toContain('silent data loss');

      // 5.10, run to the end with the keyboard: fork copied the pinned page
      // to the child, the parent keeps the frame the NIC uses.
      await page.selectOption('#preset', '5.10');
      await expect.poll(() => page.locator('#pane-0 .pane-title').textContent()).toBe('fork-rdma on 5.10');
      await page.locator('#narration').click(); // focus out of the select: keys go to the player
      await page.keyboard.press('e');
      await expect.poll(() => page.locator('#position').textContent()).toBe('step 5 of 5');
      expect(await page.locator('#narration').textContent()).toBe(forkRdma.steps[4].narration);
      expect(await page.locator('#outcome').textContent()).toContain("5.10: coherent: the NIC read 'B'");
      const pinned10 = await frame(page, 0, 'pinned');
      expect(await frame(page, 0, 'parent')).toBe(pinned10);
      const child10 = await frame(page, 0, 'child');
      expect(await frameColour(page, 0, pinned10)).toBe(colour(C.FRAME_LONGTERM));
      expect(await frameColour(page, 0, child10)).toBe(colour(C.FRAME_ANON));
      expect(await counter(page, 0, 'nr_foll_pin_acquired')).toBe('1');
      await page.screenshot({ path: `${SHOTS}fork-rdma-5.10.png`, fullPage: true });

      // Compare: 5.8 beside 5.10, stepped with the keyboard.
      await page.selectOption('#preset', '5.8');
      await page.selectOption('#preset2', '5.10');
      await page.check('#compare-on');
      await expect.poll(() => page.locator('#pane-1 .pane-title').textContent()).toBe('fork-rdma on 5.10');
      await page.locator('#narration').click();
      await stepThrough(page, 'key');
      const outcome = await page.locator('#outcome').textContent();
      expect(outcome).toContain('5.8: silent data loss');
      expect(outcome).toContain('5.10: coherent');
      // The lines of the 5.10 run that differ from 5.8's are marked.
      expect(await page.locator('#pane-1 .step-lines .differs').allTextContents()).toEqual(["≠ RDMA READ gets 'B'"]);
      expect(await page.locator('#pane-0 .step-lines .differs').count()).toBe(0);
      expect(await frameColour(page, 1, await frame(page, 1, 'pinned'))).toBe(colour(C.FRAME_LONGTERM));
      await page.screenshot({ path: `${SHOTS}compare.png`, fullPage: false });
      const { stepMs, actionMs } = await page.evaluate(() => (window as unknown as LabWindow).__lab.player);
      console.log(`lab: scenario steps took ${stepMs.map((m) => m.toFixed(1)).join(', ')} ms (action + redraw, one pane, then two), `
        + `the actions alone ${actionMs.map((m) => m.toFixed(1)).join(', ')} ms`);
      expect(Math.max(...stepMs)).toBeLessThan(200); // target 16 ms; loose here: CI machines are shared

      expect(problems).toEqual([]);
      expect(requests.filter((r) => !/^GET \/(|index\.html|style\.css|lab\.js|lab\.js\.map|pinsim\.release\.wasm)$/.test(r))).toEqual([]);
    });
  });

  it.skipIf(skip)(`plays every scenario of the catalogue to its outcome on its first preset${note}`, { timeout: 300_000 }, async () => {
    ready();
    await withChromium(route, async (page, base) => {
      const problems = await open(page, base);
      for (const sc of SCENARIOS) {
        await page.selectOption('#scenario', sc.id);
        await expect.poll(() => page.locator('#pane-0 .pane-title').textContent()).toBe(`${sc.id} on ${sc.presets[0]}`);
        await page.click('#run');
        await expect.poll(() => page.locator('#position').textContent(), { timeout: 60_000 }).toBe(`step ${sc.steps.length} of ${sc.steps.length}`);
        const outcome = await page.locator('#outcome').textContent();
        expect(outcome, sc.id).toMatch(new RegExp(`^${sc.presets[0].replace('.', '\\.')}: `));
        expect(outcome, sc.id).not.toMatch(/^error: /);
      }
      expect(problems).toEqual([]);
    });
  });

  it.skipIf(skip)(`free play from a subdirectory: first paint of a 1 GiB machine, the console, a 64 GiB redraw${note}`, { timeout: 240_000 }, async () => {
    ready();
    await withChromium(route, async (page, base) => {
      const problems = await open(page, base, `${SUBDIR.slice(1)}#play`);
      const [script, first] = await page.evaluate(() => [(window as unknown as LabWindow).__lab.scriptMs, (window as unknown as LabWindow).__lab.firstPaintMs]);
      console.log(`lab: first paint of the 1 GiB machine ${first.toFixed(0)} ms after navigation (the script started at ${script.toFixed(0)} ms)`);
      expect(first).toBeLessThan(5000); // target 1 s; loose here: CI machines are shared
      expect(await page.locator('#play-pane .pane-title').textContent()).toBe('free play: 1GiB on latest');

      const run = async (code: string) => {
        await page.fill('#console-in', code);
        await page.press('#console-in', 'Enter');
        await expect.poll(() => page.locator('#console-out pre').last().textContent()).not.toBe(`> ${code}`);
        return page.locator('#console-out pre').last().textContent();
      };
      expect(await run('globalThis.buf = t.mmap({ length: 16 * 4096, prot: C.PROT_READ | C.PROT_WRITE, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS })')).toMatch(/^\d+$/);
      expect(await run('t.touch(buf, 16 * 4096, { write: true })')).toBe('undefined');
      expect(await run('const pa = k.pageArray(16); return k.pin_user_pages_fast(t, buf, 16, C.FOLL_WRITE | C.FOLL_LONGTERM, pa)')).toBe('16');
      expect(await run('t.munmap(buf + 1, 4096)')).toMatch(/^SyscallError: EINVAL: munmap: address 0x[0-9a-f]+ is not page-aligned$/);
      expect(await run('k.nosuch()')).toBe('TypeError: k.nosuch is not a function');
      expect(await page.locator('#play-pane [data-counter="nr_foll_pin_acquired"] .value').textContent()).toBe('16');
      expect(await page.locator('#play-pane [data-counter="t VmPin kB"] .value').textContent()).toBe('0');
      await page.screenshot({ path: `${SHOTS}free-play.png`, fullPage: false });

      // The map zooms from the keyboard: + to one frame per cell and closer, 0 back to the whole machine.
      const view = () => page.evaluate(() => { const m = (window as unknown as LabWindow).__lab.play.pane.map; return `${m.per}/${m.cell}`; });
      expect(await view()).toBe('1/1'); // 1 GiB: one frame per pixel
      await page.focus('#play-pane-map');
      await page.keyboard.press('+');
      await page.keyboard.press('+');
      expect(await view()).toBe('1/4');
      await page.keyboard.press('0');
      expect(await view()).toBe('1/1');

      // 64 GiB: boot it from the form, then redraw the whole machine.
      await page.selectOption('#play-memory', '64GiB');
      await page.click('#play-boot button[type=submit]');
      await expect.poll(() => page.locator('#play-pane .pane-title').textContent(), { timeout: 60_000 }).toBe('free play: 64GiB on latest');
      await run('globalThis.b2 = t.mmap({ length: 1 << 30, prot: C.PROT_READ | C.PROT_WRITE, flags: C.MAP_PRIVATE | C.MAP_ANONYMOUS }); t.touch(b2, 1 << 30, { write: true })');
      const ms = await page.evaluate(() => {
        const map = (window as unknown as LabWindow).__lab.play.pane.map;
        map.fit();
        return Array.from({ length: 7 }, () => { map.draw(); return map.lastDrawMs; });
      });
      const median = [...ms].sort((a, b) => a - b)[3];
      console.log(`lab: redraw of the 64 GiB map (1 GiB of it touched) ${ms.map((m) => m.toFixed(1)).join(', ')} ms, median ${median.toFixed(1)}`);
      expect(median).toBeLessThan(250); // target 50 ms; loose here: CI machines are shared
      expect(problems).toEqual([]);
    });
  });
});
