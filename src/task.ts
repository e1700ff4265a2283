// A process: its mm, its file descriptors, and the syscalls and user
// accesses pinsim models. Syscalls throw SyscallError (code 'EINVAL', …);
// user accesses that Linux answers with a signal throw code 'SIGSEGV' or
// 'SIGBUS'. Misused arguments throw TypeError/RangeError before anything
// changes.
import * as C from '../assembly/constants';
import { fail, checkInt, checkBool, SyscallError } from './errors';
import { SimFile } from './fs/file';
import type { Mm } from './mm/mm';
import { TASK_SIZE } from './mm/mm';
import { doMmap, checkMunmap } from './mm/mmap';
import { doMprotect, doMadvise } from './mm/mprotect';
import type { Kernel } from './devices/kernel';
import { DeviceFile } from './devices/device';
import { ioUringSetup, type IoUring, type IoUringOptions } from './devices/io_uring';
import { xdpUmemReg, type XdpSocket, type XdpUmemReg } from './devices/xdp';
import { tcpSocket, type TcpSocket } from './devices/zerocopy';
import { ibvForkInit, ibvIsForkInitialized } from './devices/ibverbs-fork';
import { openVfio, type VfioContainer, type VfioOptions } from './devices/vfio';
import { openIommufd, type Iommufd } from './devices/iommufd';
import { doPipe, doVmsplice, checkVmspliceArgs, readPipe, type PipeChunk } from './devices/pipe';
import { procMaps } from './inspect/procfs';
import { readFileWord, writeFileWord, fileWordError } from './fs/rw';
import { rwIter, checkRwArgs, type IoVec, type RwOptions } from './fs/read_write';
import type { IoRequest } from './devices/block';
import { procStatus, procStatusText, type ProcStatus } from './inspect/status';
import { doMlock, doMunlock, doMlockall, doMunlockall, lockedTurningWritable, populateRanges } from './mm/mlock';
import type { Capability, Rlimit, SignalStruct, TaskCred } from './cred';

const PAGE = C.PAGE_SIZE;

export interface MmapOptions {
  addr?: number;
  length: number;
  prot: number;
  flags: number;
  fd?: number;
  offset?: number;
}

export interface VmaInfo {
  start: number;
  end: number;
  flags: number; // vm_flags
  perms: string; // as in /proc/pid/maps: 'rw-p'
  file: string | null;
  pgoff: number;
  hugetlb: boolean;
}

function checkWord(v: unknown): number {
  const w = checkInt('word', v);
  if (w < 0 || w > 0xffffffff) throw new RangeError(`word must fit in 32 bits, got ${w}`);
  return w;
}

export class Task {
  // The fd table: files, and the device files (rings, containers, uverbs contexts) a process opened.
  readonly fds = new Map<number, SimFile | DeviceFile>();
  /** @internal Per-fd open flags (O_DIRECT), copied by fork. */
  readonly fdFlags = new Map<number, number>();
  #exited = false;
  readonly uid: number; // the real uid: its user_struct is kernel.user(uid)
  readonly caps: ReadonlySet<Capability>; // effective capabilities (init user namespace)
  /** @internal rlimits, shared by threads and copied by fork */
  readonly signal: SignalStruct;

  /** @internal Made by the Kernel, not by users. */
  constructor(
    readonly kernel: Kernel,
    readonly pid: number,
    readonly name: string,
    readonly mm: Mm,
    readonly parent: Task | null,
    cred: TaskCred,
  ) {
    this.uid = cred.uid;
    this.caps = cred.caps;
    this.signal = cred.signal;
  }

  get exited(): boolean { return this.#exited; }

  // capable(): is the capability in the task's effective set?
  capable(cap: Capability): boolean { return this.caps.has(cap); }

  /** @internal rlim_cur of RLIMIT_MEMLOCK, in bytes */
  memlockBytes(): number { return this.signal.memlock.soft; }

  // An exited task refuses every method with ESRCH, before its arguments
  // are looked at (the same rule as the Kernel's functions that take a
  // task or its mm).
  #alive(syscall: string): void {
    if (this.#exited) throw fail(syscall, C.ESRCH, `task ${this.pid} has exited`);
  }

  #run<T>(syscall: string, fn: () => T): T {
    return this.kernel.guard(fn, this.name);
  }

  #fd(syscall: string, fd: unknown): SimFile | DeviceFile {
    const n = checkInt('fd', fd);
    const f = this.fds.get(n);
    if (!f) throw fail(syscall, C.EBADF, `fd ${n} is not open`);
    return f;
  }

  // A regular file's fd; a device file (a ring, a container) has no file
  // operations pinsim models for these calls.
  #file(syscall: string, fd: unknown): SimFile {
    const f = this.#fd(syscall, fd);
    if (f instanceof DeviceFile) throw fail(syscall, C.EINVAL, `fd ${fd} is ${f.path}, not a regular file`);
    return f;
  }

  // ---- memory syscalls ----

  mmap(opts: MmapOptions): number {
    this.#alive('mmap');
    if (typeof opts !== 'object' || opts === null) throw new TypeError('mmap options must be an object');
    const addr = checkInt('addr', opts.addr ?? 0);
    const length = checkInt('length', opts.length);
    const prot = checkInt('prot', opts.prot);
    const flags = checkInt('flags', opts.flags);
    const offset = checkInt('offset', opts.offset ?? 0);
    return this.#run('mmap', () => {
      const file = flags & C.MAP_ANONYMOUS ? null : opts.fd === undefined ? null : this.#file('mmap', opts.fd);
      const addr2 = doMmap(this.kernel, this.mm, { addr, length, prot, flags, file, offset, cred: this });
      if (flags & (C.MAP_FIXED | C.MAP_FIXED_NOREPLACE)) this.kernel.reapFiles();
      return addr2;
    });
  }

  munmap(addr: number, length: number): void {
    this.#alive('munmap');
    checkInt('addr', addr);
    checkInt('length', length);
    this.#run('munmap', () => {
      const end = checkMunmap(this.mm, addr, length);
      this.mm.unmap(addr, end);
      this.kernel.reapFiles();
    });
  }

  mprotect(addr: number, length: number, prot: number): void {
    this.#alive('mprotect');
    checkInt('addr', addr);
    checkInt('length', length);
    checkInt('prot', prot);
    this.#run('mprotect', () => {
      const cow = lockedTurningWritable(this.mm, addr, length, prot);
      doMprotect(this.mm, addr, length, prot);
      populateRanges(this.kernel, this.mm, cow);
    });
  }

  madvise(addr: number, length: number, advice: number): void {
    this.#alive('madvise');
    checkInt('addr', addr);
    checkInt('length', length);
    checkInt('advice', advice);
    this.#run('madvise', () => doMadvise({ populate: (mm, v, s, e, w) => this.kernel.populateRange(mm, v, s, e, w) },
      this.mm, addr, length, advice));
  }

  // ---- mlock family and RLIMIT_MEMLOCK ----

  // mlock(2): lock [addr, addr + len) (rounded out to pages) and populate it.
  mlock(addr: number, len: number): void {
    this.#mlock('mlock', addr, len, 0);
  }

  // mlock2(2): flags 0 or MLOCK_ONFAULT (lock, populate only on fault).
  mlock2(addr: number, len: number, flags: number): void {
    this.#mlock('mlock2', addr, len, flags);
  }

  #mlock(syscall: string, addr: number, len: number, flags: number): void {
    this.#alive(syscall);
    checkInt('addr', addr);
    checkInt('len', len);
    checkInt('flags', flags);
    this.#run(syscall, () => doMlock(this.kernel, this.mm, this, syscall, addr, len, flags));
  }

  munlock(addr: number, len: number): void {
    this.#alive('munlock');
    checkInt('addr', addr);
    checkInt('len', len);
    this.#run('munlock', () => doMunlock(this.mm, addr, len));
  }

  // mlockall(2): MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT.
  mlockall(flags: number): void {
    this.#alive('mlockall');
    checkInt('flags', flags);
    this.#run('mlockall', () => doMlockall(this.kernel, this.mm, this, flags));
  }

  munlockall(): void {
    this.#alive('munlockall');
    this.#run('munlockall', () => doMunlockall(this.mm));
  }

  // getrlimit(2) of RLIMIT_MEMLOCK: { soft, hard } in bytes, Infinity for RLIM_INFINITY.
  getrlimit(resource: 'RLIMIT_MEMLOCK'): Rlimit {
    this.#alive('getrlimit');
    return this.#run('getrlimit', () => {
      checkResource('getrlimit', resource);
      return { ...this.signal.memlock };
    });
  }

  // setrlimit(2) with do_prlimit()'s checks: soft > hard is EINVAL, raising
  // hard needs CAP_SYS_RESOURCE (EPERM). Lowering unlocks nothing.
  setrlimit(resource: 'RLIMIT_MEMLOCK', limit: Rlimit): void {
    this.#alive('setrlimit');
    if (typeof limit !== 'object' || limit === null) throw new TypeError('setrlimit: limit must be { soft, hard }');
    const soft = checkRlim('soft', limit.soft);
    const hard = checkRlim('hard', limit.hard);
    this.#run('setrlimit', () => {
      checkResource('setrlimit', resource);
      if (soft > hard) throw fail('setrlimit', C.EINVAL, `soft limit ${soft} exceeds hard limit ${hard}`);
      if (hard > this.signal.memlock.hard && !this.capable('CAP_SYS_RESOURCE')) {
        throw fail('setrlimit', C.EPERM, 'raising the hard limit needs CAP_SYS_RESOURCE');
      }
      this.signal.memlock = { soft, hard };
    });
  }

  // ---- files ----

  // open(2) of a file; { direct: true } is O_DIRECT, which hugetlbfs
  // refuses (no FMODE_CAN_ODIRECT). tmpfs accepts it (since v6.6) and, like
  // fsdax, serves it as buffered I/O.
  open(file: SimFile, opts: { direct?: boolean } = {}): number {
    this.#alive('open');
    if (!(file instanceof SimFile) || !this.kernel.files.includes(file)) {
      throw new TypeError('open(file): not a file of this machine (use kernel.createFile)');
    }
    if (typeof opts !== 'object' || opts === null) throw new TypeError('open: options must be an object');
    const direct = checkBool('direct', opts.direct ?? false);
    return this.#run('open', () => {
      if (direct && file.backing === C.BACKING_HUGETLBFS) throw fail('open', C.EINVAL, 'hugetlbfs does not support O_DIRECT');
      const fd = this.#installFd(file);
      if (direct) this.fdFlags.set(fd, C.O_DIRECT);
      return fd;
    });
  }

  // Installs a device file in the fd table (anon_inode_getfd(), an open of
  // /dev/…): its fd. Device models call it; the last close releases the device.
  installFd(file: DeviceFile): number {
    return this.#installFd(file);
  }

  #installFd(file: SimFile | DeviceFile): number {
    let fd = 3;
    while (this.fds.has(fd)) fd++;
    this.fds.set(fd, file);
    return fd;
  }

  // A VFIO type1 container with a device assigned (src/devices/vfio.ts).
  vfio(opts: VfioOptions): VfioContainer {
    this.#alive('open');
    return this.#run('open', () => openVfio(this, opts));
  }

  // An iommufd ctx (src/devices/iommufd.ts); compat: opened as /dev/vfio/vfio.
  iommufd(opts: { compat?: boolean } = {}): Iommufd {
    this.#alive('open');
    return this.#run('open', () => openIommufd(this, opts));
  }

  // ---- pipes and vmsplice (src/devices/pipe.ts) ----

  // pipe(2): [read fd, write fd].
  pipe(): [number, number] { this.#alive('pipe'); return this.#run('pipe', () => doPipe(this)); }
  // vmsplice(2) into a pipe's write end: the bytes spliced (page references, not copies).
  vmsplice(fd: number, iov: IoVec[], flags = 0): number {
    this.#alive('vmsplice');
    const a = checkVmspliceArgs(fd, iov, flags);
    return this.#run('vmsplice', () => doVmsplice(this, a));
  }
  // read(2) of up to len bytes from a pipe's read end: what each buffer gave.
  read_pipe(fd: number, len: number): PipeChunk[] {
    this.#alive('read');
    const n = checkInt('fd', fd);
    if (checkInt('len', len) < 0) throw new RangeError(`len must not be negative, got ${len}`);
    return this.#run('read', () => readPipe(this, n, len));
  }

  close(fd: number): void {
    this.#alive('close');
    this.#run('close', () => {
      this.#fd('close', fd);
      this.fds.delete(fd);
      this.fdFlags.delete(fd);
      this.kernel.reapFiles();
    });
  }

  // memfd_create(2): an anonymous tmpfs (or, with hugetlb, hugetlbfs) file of size 0.
  memfd_create(name: string, opts: { hugetlb?: boolean | '2MiB' | '1GiB' } = {}): number {
    this.#alive('memfd_create');
    if (typeof name !== 'string') throw new TypeError('memfd_create: name must be a string');
    if (typeof opts !== 'object' || opts === null) throw new TypeError('memfd_create: options must be an object');
    const h = opts.hugetlb ?? false;
    if (![false, true, '2MiB', '1GiB'].includes(h)) throw new RangeError("hugetlb must be a boolean, '2MiB' or '1GiB'");
    return this.#run('memfd_create', () => {
      // MFD_NAME_MAX_LEN counts the name's bytes as the kernel sees them (UTF-8).
      if (new TextEncoder().encode(name).length > 249) throw fail('memfd_create', C.EINVAL, 'name longer than 249 bytes');
      const order = h === false ? 0 : h === '1GiB' ? C.HPAGE_PUD_ORDER : C.HPAGE_PMD_ORDER;
      return this.#installFd(this.kernel.newFile(h === false ? 'tmpfs' : 'hugetlbfs', 0, order, `memfd:${name}`, true));
    });
  }

  ftruncate(fd: number, length: number): void {
    this.#alive('ftruncate');
    checkInt('length', length);
    this.#run('ftruncate', () => {
      const f = this.#file('ftruncate', fd);
      if (length < 0) throw fail('ftruncate', C.EINVAL, 'negative length');
      if (length > f.maxBytes) throw fail('ftruncate', C.EFBIG, `length exceeds the ${f.fs} file size limit`); // inode_newsize_ok()
      if (f.hugeOrder && length % f.hugePageSize !== 0) {
        throw fail('ftruncate', C.EINVAL, `hugetlbfs size must be a multiple of ${f.hugePageSize}`);
      }
      if (f.fs === 'fsdax' && Math.ceil(length / PAGE) > Math.ceil(f.size / PAGE)) {
        throw fail('ftruncate', C.EFBIG, 'pinsim cannot grow an fsdax file past its pmem extent');
      }
      this.kernel.truncate(f, length);
    });
  }

  // Writes one word into the page of the file at byte offset `offset`
  // (pinsim models a page's contents as one word), like pwrite(2) through
  // the page cache (or straight to pmem for fsdax). Extends the file.
  pwrite(fd: number, offset: number, word: number): void {
    this.#alive('pwrite');
    checkInt('offset', offset);
    checkWord(word);
    this.#run('pwrite', () => {
      const f = this.#file('pwrite', fd);
      if (offset < 0) throw fail('pwrite', C.EINVAL, 'negative offset');
      if (f.backing === C.BACKING_HUGETLBFS) throw fail('pwrite', C.EINVAL, 'hugetlbfs does not support write(2)');
      if (offset >= f.maxBytes) throw fail('pwrite', C.EFBIG, `offset beyond the ${f.fs} file size limit`); // generic_write_check_limits()
      const index = Math.floor(offset / PAGE);
      const r = writeFileWord(this.kernel, f, index, word, index < f.pages ? f.size : (index + 1) * PAGE);
      if (r < 0) throw fail('pwrite', -r, fileWordError(r));
    });
  }

  // Reads the word of the file's page at `offset`; null at or past EOF.
  pread(fd: number, offset: number): number | null {
    this.#alive('pread');
    checkInt('offset', offset);
    return this.#run('pread', () => {
      const f = this.#file('pread', fd);
      if (offset < 0) throw fail('pread', C.EINVAL, 'negative offset');
      const index = Math.floor(offset / PAGE);
      if (index >= f.pages) return null;
      const w = readFileWord(this.kernel, f, index);
      if (w < 0) throw fail('pread', -w, fileWordError(w));
      return w;
    });
  }

  // preadv(2)/pwritev(2) at `offset` with iov = [{ base, len }]: the bytes
  // transferred (src/fs/read_write.ts has the word model). On an O_DIRECT
  // fd of an ext4/xfs/btrfs file the buffer is pinned and the block device
  // moves the data by DMA; { async: true } returns a request that completes
  // on the clock (k.advance, k.settle).
  preadv(fd: number, iov: IoVec[], offset: number, opts?: RwOptions & { async?: false }): number;
  preadv(fd: number, iov: IoVec[], offset: number, opts: RwOptions & { async: true }): IoRequest;
  preadv(fd: number, iov: IoVec[], offset: number, opts: RwOptions = {}): number | IoRequest {
    return this.#rw('preadv', false, fd, iov, offset, opts);
  }

  pwritev(fd: number, iov: IoVec[], offset: number, opts?: RwOptions & { async?: false }): number;
  pwritev(fd: number, iov: IoVec[], offset: number, opts: RwOptions & { async: true }): IoRequest;
  pwritev(fd: number, iov: IoVec[], offset: number, opts: RwOptions = {}): number | IoRequest {
    return this.#rw('pwritev', true, fd, iov, offset, opts);
  }

  #rw(syscall: string, write: boolean, fd: number, iov: IoVec[], offset: number, opts: RwOptions): number | IoRequest {
    this.#alive(syscall);
    const a = checkRwArgs(iov, offset, opts);
    return this.#run(syscall, () => rwIter(this, write, () => this.#file(syscall, fd),
      ((this.fdFlags.get(fd) ?? 0) & C.O_DIRECT) !== 0, a));
  }

  // ---- user accesses (the CPU touching memory) ----

  // The VMA for a user access, or the signal it gets (access_error()).
  #accessVma(what: string, addr: number, write: boolean) {
    const v = this.mm.vmaAt(addr);
    if (!v) throw this.kernel.faultError(what, C.VM_FAULT_SIGSEGV, addr);
    const ok = write ? v.flags & C.VM_WRITE : v.flags & (C.VM_READ | C.VM_WRITE | C.VM_EXEC);
    if (!ok) throw this.kernel.faultError(what, C.VM_FAULT_SIGSEGV, addr);
    return v;
  }

  #access(what: string, addr: number, write: boolean, word: number): number {
    if (addr < 0 || addr >= TASK_SIZE) throw this.kernel.faultError(what, C.VM_FAULT_SIGSEGV, Math.max(0, addr));
    const k = this.kernel;
    const v = this.#accessVma(what, addr, write);
    const pageAddr = addr - (addr % PAGE);
    if (v.file && v.backing === C.BACKING_FILE) {
      if (!k.fillCache(v.file, v.pgoff + (pageAddr - v.start) / PAGE, 1)) throw k.faultError(what, C.VM_FAULT_OOM, addr);
    }
    this.mm.anonVmaPrepare(v, write);
    let r;
    do {
      this.mm.prepare(v);
      r = k.core.cpu_access(this.mm.pgd, pageAddr / PAGE, write, word);
    } while (r && this.mm.notifyPending());
    if (r === C.VM_FAULT_NO_CONTENTS) throw new RangeError(`${what}: 0x${addr.toString(16)} is in a tail page of a 1 GiB folio above 256 GiB, whose contents pinsim does not keep`);
    if (r) throw k.faultError(what, r, addr);
    return write ? word : k.v.scratch[0];
  }

  // A user load of the word of the page at addr.
  read(addr: number): number {
    this.#alive('read');
    checkInt('addr', addr);
    return this.#run('read', () => this.#access('read', addr, false, 0));
  }

  // A user store of `word` into the page at addr.
  write(addr: number, word: number): void {
    this.#alive('write');
    checkInt('addr', addr);
    checkWord(word);
    this.#run('write', () => this.#access('write', addr, true, word));
  }

  // copy_to_user()/copy_from_user() of one page's word (the kernel's
  // uaccess on the task's behalf): false/null where the access faults.
  /** @internal */
  copyToUser(addr: number, word: number): boolean { return this.#uaccess(addr, true, word) !== null; }

  /** @internal */
  copyFromUser(addr: number): number | null { return this.#uaccess(addr, false, 0); }

  #uaccess(addr: number, write: boolean, word: number): number | null {
    try {
      return this.#access(write ? 'copy_to_user' : 'copy_from_user', addr, write, word);
    } catch (e) {
      if (e instanceof SyscallError) return null;
      throw e;
    }
  }

  // Touches every page of [addr, addr + length), reading or writing, as a
  // loop of user accesses would; stops at the first page that faults badly
  // (the pages before it stay touched).
  touch(addr: number, length: number, opts: { write?: boolean } = {}): void {
    this.#alive('touch');
    checkInt('addr', addr);
    checkInt('length', length);
    const write = checkBool('write', opts.write ?? false);
    this.#run('touch', () => {
      if (length <= 0) return;
      const end = Math.ceil((addr + length) / PAGE) * PAGE;
      let at = addr - (addr % PAGE);
      while (at < end) {
        if (at < 0 || at >= TASK_SIZE) throw this.kernel.faultError('touch', C.VM_FAULT_SIGSEGV, Math.max(0, at));
        const v = this.#accessVma('touch', at, write);
        const stop = Math.min(end, v.end);
        const r = this.kernel.faultVma(this.mm, v, at, stop, write);
        if (r) throw this.kernel.faultError('touch', r, at);
        at = stop;
      }
    });
  }

  // ---- devices ----

  // io_uring_setup(2): a ring in this task's fd table (ring.fd).
  io_uring_setup(entries: number, opts?: IoUringOptions): IoUring { return ioUringSetup(this, entries, opts); }

  // socket(AF_XDP) + setsockopt(SOL_XDP, XDP_UMEM_REG): the socket holding the UMEM (sock.fd).
  xdp_umem_reg(reg: XdpUmemReg): XdpSocket { return xdpUmemReg(this, reg); }

  // socket(AF_INET, SOCK_STREAM), connected: for MSG_ZEROCOPY sends (sock.fd).
  socket_tcp(): TcpSocket { return tcpSocket(this); }

  // ---- processes ----

  fork(): Task {
    this.#alive('fork');
    return this.#run('fork', () => {
      const child = this.kernel.fork(this);
      for (const [fd, flags] of this.fdFlags) child.fdFlags.set(fd, flags);
      return child;
    });
  }

  exit(): void {
    this.#alive('exit');
    this.#run('exit', () => {
      this.kernel.exitMm(this.mm);
      this.fds.clear();
      this.fdFlags.clear();
      this.kernel.removeTask(this);
      this.#exited = true;
      this.kernel.reapFiles();
    });
  }

  // ---- libibverbs' fork support (src/devices/ibverbs-fork.ts) ----

  ibv_fork_init(): number { this.#alive('ibv_fork_init'); return ibvForkInit(this); }
  ibv_is_fork_initialized(): number { this.#alive('ibv_is_fork_initialized'); return ibvIsForkInitialized(this); }

  // ---- inspection ----

  // The pfn of the page mapped at addr (no fault is taken), or null.
  translate(addr: number): number | null {
    this.#alive('translate');
    checkInt('addr', addr);
    return this.#run('translate', () => {
      if (addr < 0 || addr >= TASK_SIZE) return null;
      const pfn = this.kernel.core.translate(this.mm.pgd, Math.floor(addr / PAGE));
      return pfn < 0 ? null : pfn;
    });
  }

  // The VMAs, one object each (procMaps() has the text).
  maps(): VmaInfo[] {
    this.#alive('maps');
    return this.mm.vmas.map((v) => ({
      start: v.start, end: v.end, flags: v.flags, pgoff: v.pgoff, hugetlb: v.isHugetlb,
      perms: (v.flags & C.VM_READ ? 'r' : '-') + (v.flags & C.VM_WRITE ? 'w' : '-') + (v.flags & C.VM_EXEC ? 'x' : '-')
        + (v.isShared ? 's' : 'p'),
      file: v.file ? v.file.name : null,
    }));
  }

  // /proc/<pid>/maps as text, in the kernel's format.
  procMaps(): string {
    return procMaps(this.mm.vmas);
  }

  // The memory lines of /proc/<pid>/status, in kB.
  status(): ProcStatus {
    this.#alive('status');
    return this.#run('status', () => procStatus(this.kernel, this.mm));
  }

  // The memory lines of /proc/<pid>/status as text, in the kernel's format.
  procStatus(): string {
    return procStatusText(this.status());
  }
}

function checkResource(syscall: string, resource: unknown): void {
  if (resource !== 'RLIMIT_MEMLOCK' && resource !== C.RLIMIT_MEMLOCK) {
    throw fail(syscall, C.EINVAL, `resource ${String(resource)}: pinsim models only RLIMIT_MEMLOCK`);
  }
}

function checkRlim(what: string, v: unknown): number {
  if (v === Infinity) return v;
  const n = checkInt(what, v);
  if (n < 0) throw new RangeError(`${what} must not be negative, got ${n}`);
  return n;
}
