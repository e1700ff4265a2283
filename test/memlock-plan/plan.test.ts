// The plan schema: what parsePlan() accepts, its defaults, and the error
// each malformed plan gets (path and reason).
import { describe, expect, it } from 'vitest';
import { parsePlan, parseCountSize, describeCall, PlanError } from '../../src/memlock-plan/index';

describe('memlock plan schema', () => {
  it('fills the defaults: 8 MiB, no CAP_IPC_LOCK, latest, thp madvise; count 1; mlockall MCL_CURRENT | MCL_FUTURE', () => {
    const p = parsePlan({ calls: [{ kind: 'vfio', size: '4GiB' }, { kind: 'mlockall' }] });
    expect(p).toMatchObject({ ulimit: 8 * 2 ** 20, capIpcLock: false, kernel: 'latest', thp: 'madvise' });
    expect(p.calls[0]).toEqual({ kind: 'vfio', count: 1, size: 4 * 2 ** 30, unaligned: false, hugepages: null, flags: 0, compat: false });
    expect(p.calls[1]).toMatchObject({ kind: 'mlockall', flags: 3 });
    expect(parsePlan({ ulimit: 'unlimited', calls: [{ kind: 'rdma', size: 4096 }] }).ulimit).toBe(Infinity);
    expect(parsePlan({ ulimit: 0, calls: [{ kind: 'rdma', size: 4096 }] }).ulimit).toBe(0);
  });

  it('describes calls the way the report prints them', () => {
    const p = parsePlan({ calls: [
      { kind: 'io_uring', count: 64, size: '256KiB', unaligned: true },
      { kind: 'iommufd', size: '1GiB', hugepages: '2MiB', compat: true },
      { kind: 'mlockall', flags: ['MCL_FUTURE', 'MCL_ONFAULT'] },
    ] });
    expect(p.calls.map(describeCall)).toEqual(['io_uring 64x256KiB unaligned', 'iommufd 1GiB hugetlb 2MiB compat', 'mlockall(MCL_FUTURE | MCL_ONFAULT)']);
  });

  it('reads [N x]SIZE as the command line writes it', () => {
    expect(parseCountSize('--rdma', '2x1GiB')).toEqual({ count: 2, size: '1GiB' });
    expect(parseCountSize('--vfio', '4GiB')).toEqual({ count: 1, size: '4GiB' });
    expect(() => parseCountSize('--rdma', '')).toThrow(/--rdma: cannot parse ''/);
  });

  it.each([
    [[], /^plan: must be an object$/],
    [{}, /^calls: must be a non-empty list of calls$/],
    [{ calls: [] }, /^calls: must be a non-empty list/],
    [{ calls: [{ kind: 'rdma', size: '1GiB' }], memory: '1GiB' }, /^plan: unknown key 'memory' \(known: calls, ulimit/],
    [{ calls: [{ size: '1GiB' }] }, /^calls\[0\]\.kind: is required/],
    [{ calls: [{ kind: 'dpdk', size: '1GiB' }] }, /^calls\[0\]\.kind: must be one of rdma, io_uring, vfio, iommufd, xdp, zerocopy, mlock, mlockall; got "dpdk"$/],
    [{ calls: [{ kind: 'rdma' }] }, /^calls\[0\]\.size: is required/],
    [{ calls: [{ kind: 'rdma', size: '1GB' }] }, /calls\[0\]\.size: cannot parse '1GB'/],
    [{ calls: [{ kind: 'rdma', size: 0 }] }, /^calls\[0\]\.size: must be more than 0/],
    [{ calls: [{ kind: 'rdma', size: '1GiB', count: 0 }] }, /^calls\[0\]\.count: must be an integer from 1/],
    [{ calls: [{ kind: 'rdma', size: '1GiB', count: 1.5 }] }, /^calls\[0\]\.count: must be an integer/],
    [{ calls: [{ kind: 'rdma', size: '1GiB', unaligned: 'yes' }] }, /^calls\[0\]\.unaligned: must be true or false, got "yes"$/],
    [{ calls: [{ kind: 'rdma', size: '1GiB', hugepages: '4MiB' }] }, /^calls\[0\]\.hugepages: must be one of thp, 2MiB, 1GiB/],
    [{ calls: [{ kind: 'rdma', size: '1GiB', flags: [] }] }, /^calls\[0\]\.flags: only mlockall takes flags$/],
    [{ calls: [{ kind: 'vfio', size: '1GiB', compat: true }] }, /^calls\[0\]\.compat: only iommufd takes compat$/],
    [{ calls: [{ kind: 'rdma', size: '1GiB', lkey: 1 }] }, /^calls\[0\]: unknown key 'lkey'/],
    [{ calls: [{ kind: 'mlockall', size: '1GiB' }] }, /^calls\[0\]\.size: mlockall takes only flags$/],
    [{ calls: [{ kind: 'mlockall', flags: ['MCL_NOW'] }] }, /^calls\[0\]\.flags: unknown flag "MCL_NOW"/],
    [{ calls: [{ kind: 'mlockall', flags: 'MCL_CURRENT' }] }, /^calls\[0\]\.flags: must be a list/],
    [{ calls: [{ kind: 'rdma', size: '1GiB' }], ulimit: '-1' }, /ulimit: cannot parse '-1'/],
    [{ calls: [{ kind: 'rdma', size: '1GiB' }], kernel: '4.19' }, /^kernel: must be one of 5\.5, 5\.8/],
    [{ calls: [{ kind: 'rdma', size: '1GiB' }], thp: 'sometimes' }, /^thp: must be one of always, madvise, never/],
    [{ calls: [{ kind: 'rdma', size: '1GiB' }], capIpcLock: 1 }, /^capIpcLock: must be true or false/],
  ])('%j is refused: %s', (raw, why) => {
    let err: unknown;
    try {
      parsePlan(raw);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PlanError);
    expect((err as Error).message).toMatch(why);
  });
});
