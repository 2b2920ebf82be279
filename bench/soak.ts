/**
 * `npm run soak`: the bench pipeline under faults for a bounded time, then the delivery
 * invariants. Exits non-zero when one breaks. Flags: --seconds (120, posting 60 % of it under faults,
 * then settling), --grace (30 more seconds to settle), --messages, --flows (6),
 * --seed, --no-prober, --verbose.
 */
import { commandLineFlags, BenchLogger } from './pipeline';
import { DEFAULT_FAULTS, formatSoak, runSoak, type SoakFaults } from './soak-run';

/** --intensity k multiplies every fault probability by k (capped so targets still answer). */
function scaledFaults(k: number): Partial<SoakFaults> {
  const scale = (p: number) => Math.min(0.3, p * k);
  return {
    http503: scale(DEFAULT_FAULTS.http503),
    hang: scale(DEFAULT_FAULTS.hang),
    reset: scale(DEFAULT_FAULTS.reset),
    crashAfterPost: scale(DEFAULT_FAULTS.crashAfterPost),
    dynamoThrottleApp: scale(DEFAULT_FAULTS.dynamoThrottleApp),
    dynamoThrottleSdk: scale(DEFAULT_FAULTS.dynamoThrottleSdk),
  };
}

const USAGE =
  'usage: npm run soak -- [--seconds 120] [--grace 30] [--messages N] [--flows 6] [--seed N] [--intensity 1] [--no-prober] [--verbose]';
const flags = commandLineFlags(
  {
    seconds: 'number',
    grace: 'number',
    messages: 'number',
    flows: 'number',
    seed: 'number',
    intensity: 'number',
    'no-prober': 'boolean',
    verbose: 'boolean',
  },
  USAGE,
);
BenchLogger.print = Boolean(flags.verbose);
const seed = Number(flags.seed ?? Math.floor(Math.random() * 2 ** 31));
console.log(`seed ${seed}`);
const result = await runSoak({
  seconds: Number(flags.seconds ?? 120),
  graceSeconds: Number(flags.grace ?? 30),
  ...(flags.messages !== undefined ? { messages: Number(flags.messages) } : {}),
  flows: Number(flags.flows ?? 6),
  seed,
  useProber: !flags['no-prober'],
  ...(flags.intensity !== undefined ? { faults: scaledFaults(Number(flags.intensity)) } : {}),
}).catch((error) => {
  console.error(error);
  process.exit(1);
});
console.log(formatSoak(result));
const logged = Object.entries(result.gatewayLog).sort((a, b) => b[1] - a[1]);
if (logged.length > 0) {
  console.log('gateway warnings and errors (by message):');
  for (const [message, count] of logged) console.log(`  ${String(count).padStart(6)}  ${message}`);
}
process.exit(result.ok ? 0 : 1);
