/**
 * `@mpay/envelope/instrumentation`: for `mpay bench e2e`, which counts and
 * times every crypto operation of the servers. Not part of the package's API:
 * a service never imports it.
 */
export { instrumentNodeCalls, type NodeCryptoCalls, nodeCryptoModule } from './engine.ts';
