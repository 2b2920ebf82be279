import { run } from './program';

/** Entry point of `sluice` (bin/sluice.mjs). */
process.exitCode = await run(process.argv);
