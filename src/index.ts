// pinsim: a simulator of Linux page pinning and the memory management
// around it. Start with boot().
export { boot, type BootOptions } from './boot';
export { Kernel } from './devices/kernel';
export { PageArray } from './gup/page-array';
export { DmaDevice, DeviceFile, type DevicePin } from './devices/device';
export { IommuDomain, IOMMU_READ, IOMMU_WRITE, type IommuExtent } from './devices/iommu';
export { BlockDevice, IoRequest } from './devices/block';
export type { Bio } from './devices/bio';
export type { IoVec, RwOptions } from './fs/read_write';
export type { Pending } from './devices/clock';
export { IoUring, IO_URING_RW_NS, type IoUringCqe, type IoUringOptions, type IoUringBuffer, type Iovec } from './devices/io_uring';
export { XdpSocket, type XdpUmemReg } from './devices/xdp';
export { TcpSocket, ZEROCOPY_ACK_NS, type ZerocopyNotification } from './devices/zerocopy';
export { PipeEnd, type PipeBuffer, type PipeChunk } from './devices/pipe';
export { RdmaNic, UverbsContext, IbPd, IbMr, type RdmaOptions, type WcResult, type WcStatus, type OdpStats } from './devices/rdma';
export { IbUmem, type IbDevice, type SgEntry } from './devices/umem';
export { IbUmemOdp, UmemMutex, type IbUmemOdpOps } from './devices/umem-odp';
export type { RdmaSys } from './devices/ibverbs-fork';
export { HmmMirror, type HmmMirrorOptions, type HmmMirrorStats, type HmmMirrorMapping, type HmmDmirrorResult } from './devices/hmm-mirror';
export { VfioContainer, type VfioOptions, type VfioDmaMap, type VfioDmaUnmap } from './devices/vfio';
export { Iommufd, type AccountMode, type IoasMap, type IoasUnmap } from './devices/iommufd';
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
export type { PinRecord, PinKind } from './debug/provenance';
export { kernelRules, PRESETS, ALIASES, type KernelName, type Preset, type RuleEntry, type RuleTable } from './eras/presets';
export { TIMELINE, type RuleKey, type KernelRules } from './eras/timeline';
export type { Violation } from './debug/check';
export type { ProcStatus } from './inspect/status';
export { CoreAbort, type Backend } from './core/types';
export { wasmModule, WasmLoadError, type WasmSource, type WasmFlavour } from './core/load';
export type { PageSnapshot, MemInfo } from './inspect/page';
export * as constants from '../assembly/constants';
export {
  SCENARIOS, scenario, runScenario, ScenarioPlayer, ScenarioUnsupported, renderLook,
  type Scenario, type ScenarioCtx, type Step, type Look, type Outcome, type Reference, type RunOptions, type ScenarioRun, type StepResult, type Table,
} from './scenarios/index';
