// One valid content of every macro message kind, for one payment (client xbank, merchant ybank):
// the samples the message tests start from.
export { macroMessageSamples as macroSamples } from '../../packages/protocol/src/macro/scenario.test-helper.ts';
