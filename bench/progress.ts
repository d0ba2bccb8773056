import cliProgress from 'cli-progress';

// Progress of long phases on stderr (results go to stdout): a cli-progress bar with rate and ETA
// on a terminal; plain lines otherwise (CI logs): one at the start, one at each quarter and one
// at least every `plainEveryMs`, so a stuck phase shows in a log too.

export interface ProgressSink {
  write(text: string): void;
  isTTY?: boolean;
}

export class Progress {
  private label = '';
  private total = 0;
  private done = 0;
  private startedAt = 0;
  private lastPlainStep = -1;
  private lastPlainAt = 0;
  private bar: cliProgress.SingleBar | undefined;

  constructor(
    private readonly out: ProgressSink = process.stderr,
    private readonly now: () => number = () => Date.now(),
    private readonly plainEveryMs = 15_000,
  ) {}

  /** Starts a phase of `total` steps (0: no bar, only the label). */
  start(label: string, total: number): void {
    if (this.label) this.finish();
    this.label = label;
    this.total = total;
    this.done = 0;
    this.startedAt = this.now();
    this.lastPlainStep = -1;
    this.lastPlainAt = this.startedAt;
    if (this.out.isTTY && total > 0) {
      this.bar = new cliProgress.SingleBar(
        { stream: this.out as unknown as NodeJS.WriteStream, format: `${label.replace(/[{}]/g, '')} [{bar}] {percentage}% {value}/{total} {rate}/s ETA {eta_formatted}`, barsize: 24, hideCursor: false, clearOnComplete: true, fps: 10 },
        cliProgress.Presets.legacy,
      );
      this.bar.start(total, 0, { rate: '0.0' });
      return;
    }
    this.plain(true);
  }

  /** Sets the count of finished steps. */
  update(done: number): void {
    this.done = done;
    if (this.bar) this.bar.update(done, { rate: this.rate() });
    else this.plain(false);
  }

  tick(step = 1): void {
    this.update(this.done + step);
  }

  /** Ends the phase with a summary line. */
  finish(summary = ''): void {
    if (!this.label) return;
    this.bar?.stop();
    this.bar = undefined;
    const seconds = ((this.now() - this.startedAt) / 1000).toFixed(1);
    this.out.write(`${this.label}: ${summary ? `${summary} ` : ''}(${seconds} s)\n`);
    this.label = '';
  }

  /** A line of its own, not erased by the bar. */
  log(line: string): void {
    if (this.bar) {
      this.out.write(`\r\x1b[2K${line}\n`);
      this.bar.render();
      return;
    }
    this.out.write(`${line}\n`);
  }

  private rate(): string {
    const elapsed = (this.now() - this.startedAt) / 1000;
    return elapsed > 0 ? (this.done / elapsed).toFixed(1) : '0.0';
  }

  private plain(force: boolean): void {
    const now = this.now();
    const step = this.total > 0 ? Math.floor((Math.min(this.done, this.total) / this.total) * 4) : 0;
    const due = now - this.lastPlainAt >= this.plainEveryMs;
    if (!force && !due && step === this.lastPlainStep) return;
    this.lastPlainStep = step;
    this.lastPlainAt = now;
    this.out.write(`${this.render(now)}\n`);
  }

  /** "label 50% 500/1000 123.4/s" (plain lines). */
  render(now = this.now()): string {
    if (this.total <= 0) return `${this.label} …`;
    const share = Math.min(1, this.done / this.total);
    const elapsed = (now - this.startedAt) / 1000;
    const speed = elapsed > 0 ? ` ${(this.done / elapsed).toFixed(1)}/s` : '';
    return `${this.label} ${String(Math.floor(share * 100)).padStart(3)}% ${this.done}/${this.total}${speed}`;
  }
}
