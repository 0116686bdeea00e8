// The Reflect metadata polyfill must load before @peculiar/x509 (its tsyringe checks for it at load time).
import 'reflect-metadata';

import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

// @peculiar/x509 signs and parses with WebCrypto: Node's own, never a polyfill.
x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export { x509 };
