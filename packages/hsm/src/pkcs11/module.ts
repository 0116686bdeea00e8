import { existsSync, realpathSync } from 'node:fs';
import { assert, MpayError } from '@mpay/protocol';
import pkcs11js, { type PKCS11 } from 'pkcs11js';
import { hsmError, isReturnValue } from './errors.ts';

/**
 * A PKCS#11 library as this process holds it. A library is loaded once per
 * process and keeps one state however many handles load it (dlopen shares it),
 * so initialisation is counted here, per library, not per `Hsm`:
 * C_Initialize when the first holder arrives, C_Finalize when the last leaves.
 */
export interface LoadedModule {
  readonly path: string;
  readonly pkcs11: PKCS11;
  /** Open `Hsm`s and token set-ups using the library now. */
  holders: number;
  /** C_Initialize was ours, so C_Finalize is ours too. */
  initializedHere: boolean;
  /**
   * SOFTHSM2_CONF when C_Initialize ran. softhsm2 reads its configuration,
   * and scans its token directory, only then; `ensureSoftHsmToken` needs to
   * know which configuration is in force while the library is initialised.
   */
  softHsmConfigAtInitialization: string | undefined;
  /** User logins per slot (hex of the slot id): a login belongs to the token, shared by every session. */
  readonly logins: Map<string, TokenLogin>;
}

export interface TokenLogin {
  holders: number;
  /** HMAC of the PIN that logged in, to check a second opener's PIN without logging out the first. */
  readonly pinDigest: Buffer;
}

export interface AcquiredModule {
  readonly module: LoadedModule;
  /** True when this acquisition ran C_Initialize: the library's view of its tokens is fresh. */
  readonly initializedNow: boolean;
}

const modules = new Map<string, LoadedModule>();

/** Loads (once) and initialises (when nobody holds it) the library at `modulePath`. */
export function acquireModule(modulePath: string): AcquiredModule {
  const where = `module ${modulePath}`;
  if (!existsSync(modulePath)) throw new MpayError('HSM_UNAVAILABLE', `${where}: not found`);
  // Keyed by the real path: /usr/lib/softhsm/libsofthsm2.so is a link to the multiarch file.
  const path = realpathSync(modulePath);
  const module = modules.get(path) ?? loadModule(path, where);
  let initializedNow = false;
  if (module.holders === 0) {
    try {
      module.pkcs11.C_Initialize();
      module.initializedHere = true;
      initializedNow = true;
      module.softHsmConfigAtInitialization = process.env.SOFTHSM2_CONF;
    } catch (cause) {
      // Someone else in this process initialised it; then finalising is theirs.
      if (!isReturnValue(cause, pkcs11js.CKR_CRYPTOKI_ALREADY_INITIALIZED)) {
        throw hsmError('HSM_UNAVAILABLE', where, cause);
      }
      module.initializedHere = false;
      module.softHsmConfigAtInitialization = undefined;
    }
  }
  module.holders += 1;
  return { module, initializedNow };
}

/** Gives back one acquisition; the last holder finalises the library it initialised. */
export function releaseModule(module: LoadedModule): void {
  assert(module.holders > 0, 'a module is released at most as often as it was acquired');
  module.holders -= 1;
  if (module.holders > 0) return;
  module.logins.clear();
  if (!module.initializedHere) return;
  module.initializedHere = false;
  try {
    module.pkcs11.C_Finalize();
  } catch {
    // Nothing to recover: the next acquisition initialises again.
  }
}

/** The library at `modulePath` if this process holds it initialised now. */
export function heldModule(modulePath: string): LoadedModule | undefined {
  if (!existsSync(modulePath)) return undefined;
  const module = modules.get(realpathSync(modulePath));
  return module !== undefined && module.holders > 0 ? module : undefined;
}

function loadModule(path: string, where: string): LoadedModule {
  const pkcs11 = new pkcs11js.PKCS11();
  try {
    pkcs11.load(path);
  } catch (cause) {
    // The loader's message ('…: invalid ELF header') is the useful part, and holds no secret.
    const reason = cause instanceof Error ? cause.message : 'unknown failure';
    throw new MpayError('HSM_UNAVAILABLE', `${where}: cannot load (${reason})`, { cause });
  }
  const module: LoadedModule = {
    path,
    pkcs11,
    holders: 0,
    initializedHere: false,
    softHsmConfigAtInitialization: undefined,
    logins: new Map(),
  };
  modules.set(path, module);
  return module;
}
