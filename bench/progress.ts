// A one-line progress bar on stderr while a benchmark runs (the tables go to stdout). On a
// terminal it redraws in place; otherwise it prints a line every tenth of the way.

export interface Progress {
  /** Advances by `n` steps and shows `label` as what runs now. */
  tick(label: string, n?: number): void;
  /** Shows `label` without advancing (e.g. what is starting). */
  note(label: string): void;
  done(): void;
}

export function progressBar(total: number, width = 30): Progress {
  const tty = process.stderr.isTTY === true;
  const started = Date.now();
  let at = 0;
  let lastDecile = -1;
  const draw = (label: string) => {
    const share = total > 0 ? Math.min(1, at / total) : 1;
    const filled = Math.round(share * width);
    const elapsed = Math.round((Date.now() - started) / 1000);
    const line = `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${at}/${total} ${elapsed}s ${label}`;
    if (tty) process.stderr.write(`\r\x1b[2K${line.slice(0, (process.stderr.columns ?? 120) - 1)}`);
    else {
      const decile = Math.floor(share * 10);
      if (decile !== lastDecile) {
        lastDecile = decile;
        process.stderr.write(`${line}\n`);
      }
    }
  };
  return {
    tick(label, n = 1) {
      at += n;
      draw(label);
    },
    note(label) {
      draw(label);
    },
    done() {
      at = total;
      if (tty) process.stderr.write("\r\x1b[2K");
    },
  };
}
