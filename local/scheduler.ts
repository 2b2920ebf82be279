/** A scheduled job; its result is ignored, a rejection goes to `onError`. */
export type ScheduledTask = () => unknown;

export interface LocalSchedulerOptions {
  /** Receives whatever a task throws or rejects with. @default console.error */
  onError?: (error: unknown, name: string) => void;
  /** Keep timers from holding the process open (the HTTP server does that). @default true */
  unref?: boolean;
}

interface Entry {
  readonly name: string;
  readonly task: ScheduledTask;
  /** Set for recurring schedules. */
  readonly intervalMs?: number;
  timer?: NodeJS.Timeout;
}

/** setTimeout fires at once beyond this (about 24.8 days); longer waits are re-armed in steps. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/**
 * Stands in for EventBridge Scheduler in local mode: named recurring schedules and one-time
 * schedules that delete themselves after running (ActionAfterCompletion DELETE).
 *
 * A recurring task never overlaps itself: the next run is due `intervalMs` after the previous
 * one started, and when a run takes longer than that the next starts as soon as it ends.
 * Registering a name that exists replaces that schedule (a run already going is not interrupted).
 */
export class LocalScheduler {
  private readonly entries = new Map<string, Entry>();
  private readonly running = new Set<Promise<void>>();
  private readonly onError: (error: unknown, name: string) => void;
  private readonly unref: boolean;
  private stopped = false;

  constructor(options: LocalSchedulerOptions = {}) {
    this.onError = options.onError ?? ((error, name) => console.error(`scheduled task ${name} failed:`, error));
    this.unref = options.unref ?? true;
  }

  /** Runs `task` every `intervalMs`, first after one interval. Ignored after `stop()`. */
  every(name: string, intervalMs: number, task: ScheduledTask): void {
    if (!(intervalMs > 0)) throw new RangeError(`interval of ${name} must be positive, got ${intervalMs}`);
    this.add({ name, task, intervalMs }, Date.now() + intervalMs);
  }

  /** Runs `task` once at `at` (at once if that has passed), then forgets it. Ignored after `stop()`. */
  once(name: string, at: Date, task: ScheduledTask): void {
    this.add({ name, task }, at.getTime());
  }

  /** Removes a schedule; a run already going finishes. Returns whether it existed. */
  cancel(name: string): boolean {
    const entry = this.entries.get(name);
    if (!entry) return false;
    clearTimeout(entry.timer);
    this.entries.delete(name);
    return true;
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** Names of the schedules that exist now. */
  names(): string[] {
    return [...this.entries.keys()];
  }

  /** Removes every schedule and resolves when the tasks already running have finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const name of [...this.entries.keys()]) this.cancel(name);
    while (this.running.size > 0) await Promise.all(this.running);
  }

  private add(entry: Entry, dueAt: number): void {
    if (this.stopped) return;
    this.cancel(entry.name);
    this.entries.set(entry.name, entry);
    this.arm(entry, dueAt);
  }

  private arm(entry: Entry, dueAt: number): void {
    const delay = Math.max(0, dueAt - Date.now());
    const fire = delay > MAX_TIMEOUT_MS ? () => this.arm(entry, dueAt) : () => this.run(entry);
    entry.timer = setTimeout(fire, Math.min(delay, MAX_TIMEOUT_MS));
    if (this.unref) entry.timer.unref();
  }

  private run(entry: Entry): void {
    if (this.entries.get(entry.name) !== entry) return;
    const startedAt = Date.now();
    if (entry.intervalMs === undefined) this.entries.delete(entry.name);
    const execution = (async () => {
      try {
        await entry.task();
      } catch (error) {
        this.report(error, entry.name);
      }
    })();
    this.running.add(execution);
    void execution.finally(() => {
      this.running.delete(execution);
      // Re-arm only if this schedule still exists (not cancelled, replaced or stopped meanwhile).
      if (entry.intervalMs !== undefined && this.entries.get(entry.name) === entry) {
        this.arm(entry, startedAt + entry.intervalMs);
      }
    });
  }

  private report(error: unknown, name: string): void {
    try {
      this.onError(error, name);
    } catch {
      // An error handler that throws must not take the process down.
    }
  }
}
