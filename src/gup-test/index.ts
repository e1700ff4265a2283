// pinsim gup-test: a port of the kernel's gup_test (the selftest
// tools/testing/selftests/mm/gup_test.c and its kernel half mm/gup_test.c).
export {
  parseGupTestArgs, defaultOptions, machineFor, isBenchmark, strtol0, USAGE, GUP_TEST_CMDS,
  GUP_TEST_MAX_PAGES_TO_DUMP, GUP_TEST_FLAG_DUMP_PAGES_USE_PIN,
  type GupTestCmd, type GupTestOptions, type ParseResult,
} from './options';
export { gupTestIoctl, type GupTestArgs, type GupTestIoctlResult } from './ioctl';
export { runGupTest, gupTestMain, describeOptions, type GupTestRun, type GupTestResult, type GupTestHooks } from './run';
