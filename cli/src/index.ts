export { main, usage } from './main.ts';
export { demoParties } from './platform/seed.ts';
export { type Platform, type PlatformOptions, startPlatform } from './platform/start.ts';
