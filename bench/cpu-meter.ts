/**
 * CPU time of handler invocations that run side by side in one Node process.
 *
 * Method: an async hook sees every callback the event loop runs (timers, I/O, promise
 * reactions, ticks) begin and end, and knows from its AsyncLocalStorage store which
 * invocation scheduled it. At every such switch, the slice since the previous switch is
 * charged to the invocation that was running (or to nobody) as the smaller of its wall time
 * (`performance.now()`) and the process's CPU time (`process.cpuUsage()`, user + system).
 * JavaScript runs on one thread, so two invocations never share a slice. Wall time alone
 * would count the time the OS gave the core to other processes (a loaded machine); process
 * CPU alone would count the process's other threads (garbage collection helpers, the libuv
 * pool) working at the same time; the smaller of the two bounds the main thread's CPU from
 * above and is off only when both happen in one slice.
 *
 * The hook's own cost (the clock reads at every switch) lands in the slices it separates; the
 * meter measures that cost per switch once (`calibrate`: the same promise-heavy loop with the
 * hook on and off) and `netCpuMs` takes it back out, switch by switch. What remains is the
 * slowdown promise hooks impose on the promise machinery itself, which cannot be separated.
 *
 * Other limits, small: the socket read that precedes the HTTP parser's callbacks is charged
 * to the scope that opened a pooled socket; work outside any callback (between event-loop
 * phases) is charged to nobody.
 */
import { createHook, type AsyncHook } from 'node:async_hooks';

/** Something CPU time can be charged to. */
export interface CpuAccount {
  cpuMs: number;
  /** Slices charged to this account (each one paid the meter's overhead once). */
  switches?: number;
}

export class CpuMeter {
  private readonly hook: AsyncHook;
  private readonly stack: (CpuAccount | undefined)[] = [];
  private current: CpuAccount | undefined;
  private lastCpu = 0;
  private lastWall = 0;
  /** CPU charged to nobody while the meter ran, ms. */
  unattributedMs = 0;
  /** The meter's own CPU cost per slice, ms (`calibrate`). */
  overheadPerSwitchMs = 0;
  private switches = 0;

  /** @param accountOf the account of the code about to run (usually an AsyncLocalStorage store) */
  constructor(private readonly accountOf: () => CpuAccount | undefined) {
    this.hook = createHook({
      before: () => this.enter(this.accountOf()),
      after: () => this.leave(),
    });
  }

  start(): void {
    this.lastCpu = cpuMicros();
    this.lastWall = performance.now();
    this.hook.enable();
  }

  stop(): void {
    this.hook.disable();
    this.charge();
    this.stack.length = 0;
    this.current = undefined;
  }

  /**
   * Measures what the meter itself costs per slice: a loop of awaits (two slices each) with the
   * hook off and on, in CPU time. Call after `start`.
   */
  async calibrate(iterations = 50_000): Promise<number> {
    const loop = async () => {
      const before = cpuMicros();
      for (let i = 0; i < iterations; i++) await null;
      return (cpuMicros() - before) / 1000;
    };
    this.hook.disable();
    const off = Math.min(await loop(), await loop());
    this.hook.enable();
    const switches = this.switches;
    const on = await loop();
    const counted = this.switches - switches;
    this.overheadPerSwitchMs = counted > 0 ? Math.max(0, on - off) / counted : 0;
    return this.overheadPerSwitchMs;
  }

  /** An account's CPU without the meter's own overhead. */
  netCpuMs(account: CpuAccount): number {
    return Math.max(0, account.cpuMs - (account.switches ?? 0) * this.overheadPerSwitchMs);
  }

  /** Runs the synchronous start of an invocation (before its first await) on its account. */
  runSync<T>(account: CpuAccount, fn: () => T): T {
    this.enter(account);
    try {
      return fn();
    } finally {
      this.leave();
    }
  }

  /** Runs `fn` (synchronous) charged to nobody: the bench's own bookkeeping inside a handler's scope. */
  exclude<T>(fn: () => T): T {
    this.enter(undefined);
    try {
      return fn();
    } finally {
      this.leave();
    }
  }

  private enter(account: CpuAccount | undefined): void {
    this.charge();
    this.stack.push(this.current);
    this.current = account;
  }

  private leave(): void {
    this.charge();
    this.current = this.stack.length > 0 ? this.stack.pop() : undefined;
  }

  private charge(): void {
    const cpu = cpuMicros();
    const wall = performance.now();
    const ms = Math.min((cpu - this.lastCpu) / 1000, wall - this.lastWall);
    this.lastCpu = cpu;
    this.lastWall = wall;
    this.switches += 1;
    if (this.current) {
      this.current.cpuMs += ms;
      this.current.switches = (this.current.switches ?? 0) + 1;
    } else this.unattributedMs += ms;
  }
}

function cpuMicros(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}
