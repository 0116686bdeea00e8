import { join, resolve } from 'node:path';
import { enableChecksumsInFolder, inspectDataFolder, lockPathOf } from '@mpay/storage';
import { platformSchemas } from '../platform/start.ts';
import { dataDirOf, readJson } from './deployment.ts';
import { type CommandIo, parseFlags } from './io.ts';

const usageText = `usage: mpay storage status [--data DIR] [--json]
       mpay storage enable-checksums [--data DIR] [FOLDER…]

status            each embedded database folder: data checksums, how it was last closed, who holds it
enable-checksums  add data checksums to folders made before mpay turned them on (every folder of the
                  data directory, or the FOLDERs named). Stop mpay and copy the folders first: every
                  page is rewritten in place. A folder in use is refused.
`;

interface FolderStatus {
  readonly folder: string;
  readonly database: boolean;
  readonly dataChecksums?: boolean;
  readonly lastClosed?: string;
  readonly heldBy?: { readonly pid: number; readonly host: string; readonly lockedAt?: string };
}

async function statusOf(folder: string): Promise<FolderStatus> {
  const found = await inspectDataFolder(folder);
  const heldBy = await readJson<{ pid: number; host: string; lockedAt?: string }>(lockPathOf(folder));
  const held =
    heldBy !== undefined && Number.isSafeInteger(heldBy.pid) && typeof heldBy.host === 'string'
      ? { heldBy: { pid: heldBy.pid, host: heldBy.host, lockedAt: heldBy.lockedAt } }
      : {};
  if (found.kind !== 'cluster') return { folder, database: false, ...held };
  return {
    folder,
    database: true,
    dataChecksums: found.control.dataChecksumVersion !== 0,
    lastClosed: found.control.state,
    ...held,
  };
}

function describeStatus(status: FolderStatus): string {
  if (!status.database) return `${status.folder}: no database`;
  const lock =
    status.heldBy === undefined
      ? 'not in use'
      : `lock of process ${status.heldBy.pid} on ${status.heldBy.host} (it may be gone: the next start checks)`;
  return `${status.folder}: data checksums ${status.dataChecksums ? 'on' : 'OFF'}, state "${status.lastClosed}", ${lock}`;
}

/**
 * `mpay storage status|enable-checksums`: the embedded databases' folders,
 * read and changed directly (no running platform needed; enable-checksums
 * refuses one that runs).
 */
export async function runStorageCommand(args: readonly string[], io: CommandIo): Promise<number> {
  const [subcommand, ...rest] = args;
  const { flags, positional } = parseFlags(rest);
  const dataDir = dataDirOf(flags);
  const folders =
    positional.length > 0
      ? positional.map((folder) => resolve(folder))
      : // Each service's embedded database is its own folder (packages/storage open.ts: `<data>/<schema>`).
        platformSchemas.map((name) => join(dataDir, name));
  switch (subcommand) {
    case 'status': {
      const statuses = [];
      for (const folder of folders) statuses.push(await statusOf(folder));
      io.stdout(
        flags.has('json')
          ? `${JSON.stringify(statuses, null, 2)}\n`
          : `${statuses.map(describeStatus).join('\n')}\n`,
      );
      return 0;
    }
    case 'enable-checksums': {
      for (const folder of folders) {
        const result = await enableChecksumsInFolder(folder);
        io.stdout(
          result.outcome === 'enabled'
            ? `${folder}: data checksums on (${result.pagesWritten} pages)\n`
            : result.outcome === 'already-on'
              ? `${folder}: data checksums are already on\n`
              : `${folder}: no database here, nothing to do\n`,
        );
      }
      return 0;
    }
    case undefined:
    case 'help':
    case '--help':
      io.stdout(usageText);
      return subcommand === undefined ? 2 : 0;
    default:
      io.stderr(`mpay storage: unknown subcommand ${subcommand}\n${usageText}`);
      return 2;
  }
}
