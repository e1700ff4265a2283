// ro-pin-stale (S3) and ro-pin-sole-owner (S3b): what the device reads
// through a read-only long-term pin after the process wrote, per preset.
import { describe, expect, it } from 'vitest';
import { runScenario, scenario } from '../../src/scenarios/index';
import { BACKENDS } from '../helpers';

const STALE = { coherent: false, deviceReads: "'A'", parentReads: "'B'" };
const OK = { coherent: true, deviceReads: "'B'", parentReads: "'B'" };
const rows = [
  ['ro-pin-stale', '5.10', STALE, /^GUP took the page as mapped$/],
  ['ro-pin-stale', '6.4', OK, /^GUP unshared it first \(FAULT_FLAG_UNSHARE\)/],
  ['ro-pin-stale', '5.8', OK, /^GUP broke COW first/],
  ['ro-pin-sole-owner', '5.10', STALE, /^GUP took the page as mapped$/],
  ['ro-pin-sole-owner', '5.8', OK, /forced write fault reused it in place/],
  ['ro-pin-sole-owner', '6.4', OK, /marked it PG_anon_exclusive$/],
] as const;

describe.each(BACKENDS)('read-only pin scenarios (%s core)', (backend) => {
  it('every preset of both scenarios is covered here', () => {
    for (const id of ['ro-pin-stale', 'ro-pin-sole-owner']) expect(rows.filter((r) => r[0] === id).map((r) => r[1])).toEqual(scenario(id)!.presets);
  });

  it.each(rows)('%s on %s', async (id, kernel, values, pinLine) => {
    const r = await runScenario(scenario(id)!, { kernel, backend });
    expect(r.outcome.values).toEqual(values);
    expect(r.steps[2].lines[1]).toMatch(pinLine);
    expect(r.steps[3].lines[0]).toMatch(values.coherent ? /^the write lands in the pinned page$/ : /^COW copy/);
  });
});
