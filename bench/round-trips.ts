/**
 * Sequential AWS round trips of one handler invocation, from the times its calls started and
 * ended: calls that overlap in time (sent side by side) are one round trip, a "wave".
 */

/** One AWS call as the SDK made it (retries inside it included), in performance.now() ms. */
export interface CallSpan {
  service: string;
  operation: string;
  start: number;
  end: number;
}

/** Groups calls into waves: a call that starts before every earlier one has ended joins their wave. */
export function sequentialWaves(spans: readonly CallSpan[]): CallSpan[][] {
  const sorted = [...spans].sort((a, b) => a.start - b.start || a.end - b.end);
  const waves: CallSpan[][] = [];
  let waveEnd = -Infinity;
  for (const span of sorted) {
    if (waves.length > 0 && span.start < waveEnd) {
      waves[waves.length - 1]!.push(span);
      waveEnd = Math.max(waveEnd, span.end);
    } else {
      waves.push([span]);
      waveEnd = span.end;
    }
  }
  return waves;
}

/** Typical AWS latency of one call, ms, by service (bench/aws-latency-model.json). */
export interface LatencyModel {
  /** By service name as the meter names them (DynamoDB, SQS, S3, KMS, EventBridge, Scheduler). */
  callMs: Record<string, number>;
  /** For a service not in the table. */
  defaultCallMs: number;
}

/** Time an invocation waits on AWS in the model: each wave lasts as long as its slowest call. */
export function modelledWaitMs(waves: readonly CallSpan[][], model: LatencyModel): number {
  return waves.reduce((sum, wave) => sum + Math.max(...wave.map((s) => model.callMs[s.service] ?? model.defaultCallMs)), 0);
}
