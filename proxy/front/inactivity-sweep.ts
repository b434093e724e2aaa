// Coarse inactivity deadlines for the front end's sockets: one interval over a set of members checks the
// activity timestamps they stamp, instead of a Node socket timer re-armed on every read and write.

/** Something with inactivity deadlines; `sweep` checks them against the sweep's clock and acts on expiry. */
export interface SweepMember {
  sweep(now: number): void;
}

/**
 * A stamp is one property read (`sweep.now`, the clock at the last tick) and one write, where a socket timer
 * costs a timer-list move and a clock call per read or write (about 1.5k instructions per proxied request).
 * The price is resolution: a stamp may be up to one period old, so a deadline counts as passed only when
 * `now - stamp >= limit + periodMs` (see `expired`); it fires between its limit and about two periods after.
 */
export class InactivitySweep {
  readonly periodMs: number;
  /**
   * performance.now() at the last tick, or when the first member joined an idle sweep. It stands still while
   * the sweep has no members, so members stamp it only after add().
   */
  now = performance.now();
  private readonly members = new Set<SweepMember>();
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(periodMs: number) {
    this.periodMs = periodMs;
  }

  add(member: SweepMember): void {
    this.members.add(member);
    if (this.timer !== undefined) return;
    this.now = performance.now();
    this.timer = setInterval(() => this.tick(), this.periodMs);
    // Like a socket timer, the sweep alone never keeps the process alive.
    this.timer.unref();
  }

  delete(member: SweepMember): void {
    if (!this.members.delete(member) || this.members.size > 0 || this.timer === undefined) return;
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** True when something stamped at `stamp` has certainly been inactive for `limitMs` (0 = no limit). */
  expired(stamp: number, limitMs: number): boolean {
    return limitMs > 0 && this.now - stamp >= limitMs + this.periodMs;
  }

  get size(): number {
    return this.members.size;
  }

  private tick(): void {
    this.now = performance.now();
    // A member may leave the set while it is swept (it closes); Set iteration tolerates that.
    for (const member of this.members) member.sweep(this.now);
  }
}

/**
 * The HTTP/1.1 front end's sweep: client idle and head deadlines, upstream read and send timeouts. Timeouts
 * are whole seconds in configuration, so firing within half a second of the limit keeps their meaning.
 */
export const FRONT_SWEEP = new InactivitySweep(250);
