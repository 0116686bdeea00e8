import { afterAll, beforeAll, describe } from 'vitest';
import { type CryptoEngineName, selectCryptoEngine } from '../engine.ts';

/** Both engines, for tests that must hold under each. */
export const cryptoEngineNames: readonly CryptoEngineName[] = ['webcrypto', 'node:crypto'];

/** `body`'s tests once per engine, that engine selected for them; node:crypto (Node's default) put back after. */
export function describeEachEngine(title: string, body: () => void): void {
  describe.each(cryptoEngineNames)(`${title}, engine %s`, (engine) => {
    beforeAll(() => selectCryptoEngine(engine));
    afterAll(() => selectCryptoEngine('node:crypto'));
    body();
  });
}
