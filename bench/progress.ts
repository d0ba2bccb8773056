// A progress display for long phases: a redrawn bar on a terminal, plain lines otherwise (CI
// logs), so a stuck phase is visible either way. Writes to stderr; results go to stdout.

export interface ProgressSink {
  write(text: string): void;
  isTTY?: boolean;
}

export class Progress {
  private label = '';
  private total = 0;
  private done = 0;
  private startedAt = 0;
  private lastDraw = 0;
  private lastPlainStep = -1;

  constructor(
    private readonly out: ProgressSink = process.stderr,
    private readonly now: () => number = () => Date.now(),
  ) {}

  /** Starts a phase of `total` steps (0: no bar, only the label). */
  start(label: string, total: number): void {
    this.finishLine();
    this.label = label;
    this.total = total;
    this.done = 0;
    this.startedAt = this.now();
    this.lastDraw = 0;
    this.lastPlainStep = -1;
    this.draw(true);
  }

  /** Sets the count of finished steps. */
  update(done: number): void {
    this.done = done;
    this.draw(false);
  }

  tick(step = 1): void {
    this.update(this.done + step);
  }

  /** Ends the phase with a summary line. */
  finish(summary = ''): void {
    const seconds = ((this.now() - this.startedAt) / 1000).toFixed(1);
    if (this.out.isTTY) this.out.write(`\r\x1b[2K`);
    this.out.write(`${this.label}: ${summary ? `${summary} ` : ''}(${seconds} s)\n`);
    this.label = '';
  }

  /** A line of its own, not erased by the bar. */
  log(line: string): void {
    if (this.out.isTTY && this.label) this.out.write(`\r\x1b[2K`);
    this.out.write(`${line}\n`);
    if (this.label) this.draw(true);
  }

  private finishLine(): void {
    if (this.label) this.finish();
  }

  private draw(force: boolean): void {
    const now = this.now();
    if (this.out.isTTY) {
      if (!force && now - this.lastDraw < 100 && this.done < this.total) return;
      this.lastDraw = now;
      this.out.write(`\r\x1b[2K${this.render(now)}`);
      return;
    }
    // Plain output: one line at the start and at each quarter.
    const step = this.total > 0 ? Math.floor((this.done / this.total) * 4) : 0;
    if (step === this.lastPlainStep || (this.done >= this.total && this.total > 0 && step < 4)) return;
    this.lastPlainStep = step;
    this.out.write(`${this.render(now)}\n`);
  }

  /** "label [#####-----]  50% 500/1000  123.4/s" */
  render(now = this.now()): string {
    if (this.total <= 0) return `${this.label} …`;
    const width = 24;
    const share = Math.min(1, this.done / this.total);
    const filled = Math.round(share * width);
    const elapsed = (now - this.startedAt) / 1000;
    const speed = elapsed > 0 ? `  ${(this.done / elapsed).toFixed(1)}/s` : '';
    return `${this.label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.floor(share * 100)).padStart(3)}% ${this.done}/${this.total}${speed}`;
  }
}
