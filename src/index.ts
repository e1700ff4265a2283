// pinsim: a simulator of Linux page pinning and the memory management
// around it. Start with boot().
export { boot, type BootOptions } from './boot';
export { Kernel } from './devices/kernel';
export { PageArray } from './gup/page-array';
export { DmaDevice, DeviceFile, type DevicePin } from './devices/device';
export { IommuDomain, IOMMU_READ, IOMMU_WRITE, type IommuExtent } from './devices/iommu';
export type { Pending } from './devices/clock';
export { HmmMirror, type HmmMirrorOptions, type HmmMirrorStats, type HmmMirrorMapping, type HmmDmirrorResult } from './devices/hmm-mirror';
export type { Locked } from './gup/gup';
export { Mm } from './mm/mm';
export { MmuIntervalNotifier, type MmuIntervalNotifierOps, type MmuNotifierRange } from './mm/notifier';
export {
  HMM_PFN_VALID, HMM_PFN_WRITE, HMM_PFN_ERROR, HMM_PFN_REQ_FAULT, HMM_PFN_REQ_WRITE, HMM_PFN_ORDER_SHIFT, HMM_PFN_FLAGS,
  hmm_pfn_to_map_order, hmm_pfn_to_pfn, type HmmRange,
} from './mm/hmm';
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
