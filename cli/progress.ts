/** A one-line progress bar on stderr (only when stderr is a terminal; plain lines otherwise). */
export class Progress {
  private readonly tty = Boolean(process.stderr.isTTY);
  private last = '';

  constructor(private readonly quiet = false) {}

  update(label: string, fraction: number): void {
    if (this.quiet) return;
    const width = 24;
    const done = Math.round(Math.max(0, Math.min(1, fraction)) * width);
    const line = `[${'#'.repeat(done)}${'.'.repeat(width - done)}] ${label}`;
    if (this.tty) process.stderr.write(`\r${line.padEnd(this.last.length)}`);
    else if (label !== this.last) process.stderr.write(`${line}\n`);
    this.last = line;
  }

  done(): void {
    if (!this.quiet && this.tty) process.stderr.write('\n');
  }
}
