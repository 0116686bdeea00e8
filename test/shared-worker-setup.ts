import { setFetchSource } from '@mpay/http-client';
import { checkAnswersWith } from '@mpay/http-server';

/**
 * Run before each test file (vitest.config.ts setupFiles). A worker runs many files one after the
 * other in one process (isolate: false: the modules, PGlite's compiled engine and its new-cluster
 * copy are loaded once per worker, not once per file), so what a file may change for the whole
 * process is put back here, and each file starts as it would in a process of its own:
 * - globalThis.fetch: `mpay`'s main() trusts a TLS deployment's CA by replacing it
 *   (trustDeploymentCa), and some suites wrap it to watch calls; and the http-client's fetch
 *   source, which a TLS platform sets for the process (loadPlatformTls) until it is closed;
 * - the OpenAPI answer check (test/support/answer-contract.ts), installed by the e2e harness for
 *   the servers it starts: off again until a file installs it;
 * - process.env, as the worker started with it.
 */
const pristine = Symbol.for('mpay.test.pristineProcessState');
type Pristine = { readonly fetch: typeof fetch; readonly env: Readonly<Record<string, string | undefined>> };
const holder = globalThis as { [pristine]?: Pristine };
holder[pristine] ??= { fetch: globalThis.fetch, env: { ...process.env } };
const state = holder[pristine];

globalThis.fetch = state.fetch;
setFetchSource(undefined);
checkAnswersWith(undefined);
for (const name of Object.keys(process.env)) if (!(name in state.env)) delete process.env[name];
for (const [name, value] of Object.entries(state.env)) if (value !== undefined) process.env[name] = value;
