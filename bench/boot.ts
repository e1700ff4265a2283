// Boot time and host memory of big machines, on both cores; with 256GiB,
// also a FOLL_LONGTERM pin of 64 GiB (bench/longterm-big.ts); 1TiB boots
// with 900 x 1 GiB hugetlb and VFIO-maps 512 GiB (bench/tib-vfio.ts).
// Run: npm run bench:boot [-- 16GiB 64GiB 256GiB 1TiB]
import { boot } from '../src/index';
import { longtermPin64G } from './longterm-big';
import { vfioMap512G, TIB_OPTIONS } from './tib-vfio';

const sizes = process.argv.slice(2).filter((a) => /iB$/.test(a));
for (const memory of sizes.length ? sizes : ['16GiB', '64GiB', '256GiB', '1TiB']) {
  for (const backend of ['wasm', 'ts'] as const) {
    const times: number[] = [];
    let perFrame = 0;
    let tablesPerFrame = 0;
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      const k = await boot(memory === '1TiB' ? { ...TIB_OPTIONS, backend } : { memory, backend });
      times.push(performance.now() - t0);
      if (backend === 'wasm') {
        tablesPerFrame = (k.core.pt_capacity() * 4104) / k.nrFrames;
        perFrame = k.v.flags.buffer.byteLength / k.nrFrames - tablesPerFrame;
      }
    }
    times.sort((a, b) => a - b);
    console.log(`${memory} ${backend}: boot median ${times[2].toFixed(1)} ms (min ${times[0].toFixed(1)}, max ${times[4].toFixed(1)})`
      + (backend === 'wasm' ? `, ${perFrame.toFixed(1)} bytes of Wasm memory per frame besides page tables`
        + ` (+ ${tablesPerFrame.toFixed(1)} reserved for them)` : ''));
    if (memory === '256GiB') console.log(await longtermPin64G(backend));
    if (memory === '1TiB') console.log(await vfioMap512G(backend));
  }
}
