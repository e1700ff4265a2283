// Progress of a long CLI run on stderr: a single line redrawn in place when
// the stream is a terminal, nothing at all when it is piped or redirected
// (so logs and diffs of the output stay clean). The stream is anything with
// isTTY and write(), so this works without Node and tests pass a fake.

export interface ProgressStream {
  isTTY?: boolean;
  write(s: string): unknown;
}

export interface Progress {
  update(done: number, total: number): void;
  end(): void; // clears the line (the next update() draws it again)
  // out, clearing the line first, so that output lines and the bar can share a terminal.
  wrap(out: (line: string) => void): (line: string) => void;
}

const NONE: Progress = { update() {}, end() {}, wrap: (out) => out };

// label: what runs ('selftest cow'). Redraws at most every minMs.
export function progress(stream: ProgressStream | undefined, label: string, minMs = 100, now: () => number = Date.now): Progress {
  if (!stream?.isTTY) return NONE;
  let last = -Infinity;
  let shown = false;
  return {
    update(done, total) {
      const t = now();
      if (t - last < minMs && done < total) return;
      last = t;
      shown = true;
      const pct = total > 0 ? Math.floor((100 * done) / total) : 0;
      stream.write(`\r\x1b[K${label}: ${done}/${total} (${pct}%)`);
    },
    end() {
      if (shown) stream.write('\r\x1b[K');
      shown = false;
    },
    wrap(out) {
      return (line) => {
        this.end();
        out(line);
      };
    },
  };
}
