export * from './errors/index.ts';
export * from './canonical/index.ts';
export * from './payment/index.ts';
