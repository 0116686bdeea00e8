export * from './canonical/index.ts';
export * from './custody/index.ts';
export * from './errors/index.ts';
export * from './ims/index.ts';
export * from './money/index.ts';
export * from './party/index.ts';
export * from './payment/index.ts';
