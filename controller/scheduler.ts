// Coalesces bursts of store changes into one rebuild: after `quietMs` without a change,
// but never later than `maxDelayMs` after the first change of a burst.

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

export interface SchedulerOptions {
  quietMs: number;
  maxDelayMs: number;
  rebuild: () => void;
  timers?: Timers;
}

export class RebuildScheduler {
  private readonly opts: SchedulerOptions;
  private readonly timers: Timers;
  private quietTimer: unknown;
  private deadlineTimer: unknown;
  private pending = false;
  private stopped = false;

  constructor(opts: SchedulerOptions) {
    this.opts = opts;
    this.timers = opts.timers ?? realTimers;
  }

  markDirty(): void {
    if (this.stopped) return;
    this.pending = true;
    if (this.quietTimer !== undefined) this.timers.clearTimeout(this.quietTimer);
    this.quietTimer = this.timers.setTimeout(() => this.flush(), this.opts.quietMs);
    if (this.deadlineTimer === undefined) this.deadlineTimer = this.timers.setTimeout(() => this.flush(), this.opts.maxDelayMs);
  }

  /** Rebuilds now if anything is pending (used at the synced gate and in tests). */
  flush(): void {
    this.clear();
    if (!this.pending || this.stopped) return;
    this.pending = false;
    this.opts.rebuild();
  }

  stop(): void {
    this.stopped = true;
    this.clear();
  }

  private clear(): void {
    if (this.quietTimer !== undefined) this.timers.clearTimeout(this.quietTimer);
    if (this.deadlineTimer !== undefined) this.timers.clearTimeout(this.deadlineTimer);
    this.quietTimer = undefined;
    this.deadlineTimer = undefined;
  }
}
