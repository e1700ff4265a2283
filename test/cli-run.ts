// Runs the built CLI (dist/cli.js) as a user would: exit code, stdout and stderr lines.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface CliRun { code: number; out: string[]; err: string[] }

export function pinsim(...args: string[]): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(process.execPath, [`${ROOT}dist/cli.js`, ...args], { cwd: ROOT, timeout: 120_000 }, (e, stdout, stderr) => {
      const lines = (s: string) => (s === '' ? [] : s.replace(/\n$/, '').split('\n'));
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : -1) : 0, out: lines(stdout), err: lines(stderr) });
    });
  });
}
