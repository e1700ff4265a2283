// How the CLI reports bad usage: one line saying what is wrong and where
// the help is, as common command-line tools do (the caller exits with 2).
export function usageError(cmd: string | null, what: string): string[] {
  return [`pinsim: ${what}`, `see 'pinsim ${cmd ? `${cmd} ` : ''}--help'`];
}
