// A subcommand's arguments, parsed strictly (node:util parseArgs); on bad
// usage the two usage lines go to err and the result is null (exit 2).
// Node only: for the CLI files.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { usageError } from './usage';

export function parseCommand<O extends NonNullable<ParseArgsConfig['options']>>(cmd: string, args: string[], options: O,
  err: (line: string) => void) {
  try {
    return parseArgs({ args, strict: true, allowPositionals: true, options });
  } catch (e) {
    for (const line of usageError(cmd, (e as Error).message)) err(line);
    return null;
  }
}
