/**
 * A progress bar on stderr, so stdout stays clean for whatever a script pipes it into.
 * On a terminal it redraws one line (at most every 80 ms: redrawing per step would cost
 * more than the steps); elsewhere (CI logs, files) it prints one line per phase instead.
 */
export interface Progress {
  /** Starts a phase with its own count; the bar shows the phase label and its share. */
  phase(label: string, total: number): void;
  tick(n?: number): void;
  done(summary?: string): void;
}

const WIDTH = 28;
const REDRAW_MS = 80;

export const silentProgress: Progress = { phase() {}, tick() {}, done() {} };

export function createProgress(stream: NodeJS.WriteStream = process.stderr): Progress {
  const tty = stream.isTTY === true;
  const started = Date.now();
  let label = '';
  let total = 0;
  let count = 0;
  let phaseStarted = started;
  let lastDraw = 0;

  const draw = (force: boolean) => {
    const now = Date.now();
    if (!force && now - lastDraw < REDRAW_MS) return;
    lastDraw = now;
    const share = total === 0 ? 1 : Math.min(1, count / total);
    const filled = Math.round(share * WIDTH);
    const bar = '█'.repeat(filled) + '░'.repeat(WIDTH - filled);
    const secs = ((now - phaseStarted) / 1000).toFixed(1);
    const line = `  ${bar} ${String(Math.floor(share * 100)).padStart(3)}%  ${count}/${total}  ${label}  ${secs}s`;
    const width = stream.columns !== undefined && stream.columns > 20 ? stream.columns : 120;
    stream.write(`\r${line.length > width - 1 ? line.slice(0, width - 1) : line}\x1b[K`);
  };

  const endPhase = () => {
    if (label === '') return;
    if (tty) {
      draw(true);
      stream.write('\n');
    } else {
      stream.write(`  ${label}: ${count}/${total} (${((Date.now() - phaseStarted) / 1000).toFixed(1)}s)\n`);
    }
  };

  return {
    phase(next, n) {
      endPhase();
      label = next;
      total = n;
      count = 0;
      phaseStarted = Date.now();
      if (tty) draw(true);
    },
    tick(n = 1) {
      count += n;
      if (tty) draw(count >= total);
    },
    done(summary) {
      endPhase();
      label = '';
      if (summary) stream.write(`  ${summary} (${((Date.now() - started) / 1000).toFixed(1)}s)\n`);
    },
  };
}
