#!/usr/bin/env node
// Runs the TypeScript CLI directly: tsx compiles on load, so a fresh clone needs no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/main.ts');
const code = await main(process.argv.slice(2));
// A failed command may leave services or databases it opened before failing (a half-started
// `mpay up`): exit rather than stay alive holding ports. Success ends when nothing is left to do.
if (code !== 0) process.exit(code);
process.exitCode = code;
