// pinsim: a simulator of Linux page pinning and the memory management
// around it. Start with boot().
export { boot, type BootOptions } from './boot';
export { Kernel } from './gup/kernel';
export { PageArray } from './gup/page-array';
export type { Locked } from './gup/gup';
export { Mm } from './mm/mm';
export type { WritebackReport } from './kernel';
export { Task, type MmapOptions, type VmaInfo } from './task';
export { SimFile, type FsType } from './fs/file';
export { SyscallError, type MemlockDetail } from './errors';
export { UserStruct, type Capability, type Rlimit, type MemlockOption, type SpawnOptions } from './cred';
export type { MemlockCharge, MemlockCounter } from './mm/memlock';
export type { ProcStatus } from './inspect/status';
export { CoreAbort, type Backend } from './core/types';
export { wasmModule, WasmLoadError, type WasmSource, type WasmFlavour } from './core/load';
export type { PageSnapshot, MemInfo } from './inspect/page';
export * as constants from '../assembly/constants';
