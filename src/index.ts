// pinsim: a simulator of Linux page pinning and the memory management
// around it. Start with boot().
export { boot, Kernel, type BootOptions, type WritebackReport } from './kernel';
export { Task, type MmapOptions, type VmaInfo } from './task';
export { SimFile, type FsType } from './fs/file';
export { SyscallError } from './errors';
export { CoreAbort, type Backend, type Core } from './core/core';
export { wasmModule, type WasmSource, type WasmFlavour } from './core/load';
export type { PageSnapshot, MemInfo } from './inspect/page';
export * as constants from '../assembly/constants';
