// Coalesces bursts of store changes into one rebuild: after `quietMs` without a change,
// but never later than `maxDelayMs` after the first change of a burst; endpoint-only bursts go faster.

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
  /** Shorter timings while only endpoint changes are pending: they take the cheap path. */
  fastQuietMs?: number;
  fastMaxDelayMs?: number;
  timers?: Timers;
}

export class RebuildScheduler {
  private readonly opts: SchedulerOptions;
  private readonly timers: Timers;
  private quietTimer: unknown;
  private deadlineTimer: unknown;
  private pending = false;
  private slowPending = false;
  private stopped = false;

  constructor(opts: SchedulerOptions) {
    this.opts = opts;
    this.timers = opts.timers ?? realTimers;
  }

  markDirty(fast = false): void {
    if (this.stopped) return;
    this.pending = true;
    if (!fast) this.slowPending = true;
    const quiet = this.slowPending ? this.opts.quietMs : (this.opts.fastQuietMs ?? this.opts.quietMs);
    const max = this.slowPending ? this.opts.maxDelayMs : (this.opts.fastMaxDelayMs ?? this.opts.maxDelayMs);
    if (this.quietTimer !== undefined) this.timers.clearTimeout(this.quietTimer);
    this.quietTimer = this.timers.setTimeout(() => this.flush(), quiet);
    if (this.deadlineTimer === undefined) this.deadlineTimer = this.timers.setTimeout(() => this.flush(), max);
  }

  /** Rebuilds now if anything is pending (used at the synced gate and in tests). */
  flush(): void {
    this.clear();
    if (!this.pending || this.stopped) return;
    this.pending = false;
    this.slowPending = false;
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
