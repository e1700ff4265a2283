// The pinsim lab: a static page over the Wasm core. Two tabs: the scenario
// player (default) and free play (#play). Timings and the objects the
// browser test drives are on window.__lab.
import { legend } from './palette';
import { PlayConsole } from './console';
import { PlayerUI } from './player';

const scriptMs = performance.now(); // the bundle is loaded and its modules evaluated

const q = <T extends HTMLElement>(id: string): T => {
  const e = document.getElementById(id);
  if (!e) throw new Error(`lab: no #${id} in index.html`);
  return e as T;
};

const player = new PlayerUI(q('scenarios'), q);
const play = new PlayConsole(q);
const lab = { player, play, scriptMs, firstPaintMs: NaN, ready: false };
(window as unknown as { __lab: typeof lab }).__lab = lab;

document.querySelectorAll<HTMLElement>('.legend').forEach((l) => legend(l));

// Tabs: the hash names the one shown.
function tab(): void {
  const playTab = location.hash === '#play';
  q('scenarios').hidden = playTab;
  q('play').hidden = !playTab;
  q('tab-scenarios').setAttribute('aria-selected', String(!playTab));
  q('tab-play').setAttribute('aria-selected', String(playTab));
}
window.addEventListener('hashchange', tab);
tab();

// The machine of the visible tab first, so that it paints first.
const first = location.hash === '#play' ? play.boot() : player.load();
await first;
lab.firstPaintMs = performance.now(); // since navigation start
await (location.hash === '#play' ? player.load() : play.boot());
lab.ready = true;
document.body.dataset.ready = 'true';
