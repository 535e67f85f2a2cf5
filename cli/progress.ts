/**
 * Progress on stderr with the elapsed time. On a terminal: one bar redrawn in place, naming the phase
 * and its current step (pass, kernel, pipeline). Elsewhere: plain lines, one per phase, plus one per step that
 * took long (>= `slowMs`), so that a log shows where a slow compile spent its time; `plain` prints
 * every step; `none` prints nothing.
 */
export type ProgressMode = 'auto' | 'plain' | 'none';

export class Progress {
  private readonly tty: boolean;
  private readonly t0 = performance.now();
  private stepT0 = performance.now();
  private phaseLabel = '';
  private fraction = 0;
  private phaseFrom = 0;
  private phaseTo = 0;
  private last = '';

  constructor(
    private readonly mode: ProgressMode = 'auto',
    private readonly out: { isTTY?: boolean; write(s: string): unknown } = process.stderr,
    private readonly slowMs = 250,
  ) {
    this.tty = mode === 'auto' && Boolean(out.isTTY);
  }

  private elapsed(): string {
    return `${((performance.now() - this.t0) / 1000).toFixed(1).padStart(5)}s`;
  }

  /** A new phase (loading, optimizing, generating, writing) from `fraction` of the whole; its steps advance the bar up to `until`. */
  phase(label: string, fraction: number, until = fraction): void {
    this.phaseLabel = label;
    this.stepT0 = performance.now();
    this.fraction = this.phaseFrom = fraction;
    this.phaseTo = until;
    if (this.mode === 'none') return;
    if (this.tty) this.draw(label);
    else this.out.write(`cnnc [${this.elapsed()}] ${label}\n`);
  }

  /** A step of the phase finished (a pass, a pipeline): `done` of `total`, with what it was. */
  step(what: string, done: number, total: number, took?: number): void {
    if (total > 0) this.fraction = this.phaseFrom + ((this.phaseTo - this.phaseFrom) * Math.min(done, total)) / total;
    this.report(` ${done}/${total}: ${what}`, took);
  }

  /** Work inside the phase that is not one of its counted steps (a module build, the encoding); the bar stays. */
  note(what: string, took?: number): void {
    this.report(`: ${what}`, took);
  }

  /** Draws or prints `what`; its time is `took` (ms, as the library measured it) or the time since the last step. */
  private report(what: string, took?: number): void {
    const ms = took ?? performance.now() - this.stepT0;
    this.stepT0 = performance.now();
    if (this.mode === 'none') return;
    if (this.tty) this.draw(`${this.phaseLabel}${what}`);
    else if (this.mode === 'plain' || ms >= this.slowMs) {
      this.out.write(`cnnc [${this.elapsed()}]   ${this.phaseLabel}${what} (${ms.toFixed(0)} ms)\n`);
    }
  }

  private draw(label: string): void {
    const width = 24;
    const done = Math.round(Math.max(0, Math.min(1, this.fraction)) * width);
    const line = `[${'#'.repeat(done)}${'.'.repeat(width - done)}] ${this.elapsed()} ${label}`.slice(0, 100);
    this.out.write(`\r${line.padEnd(this.last.length)}`);
    this.last = line;
  }

  /** Ends the bar's line (terminal only). */
  done(): void {
    if (this.tty && this.last) this.out.write('\n');
  }
}
