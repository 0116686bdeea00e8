import { join } from 'node:path';
import type { Database } from './database.ts';
import type { IntegrityOptions } from './integrity/options.ts';
import { openPglite } from './pglite.ts';
import { openPostgres } from './postgres.ts';

export interface OpenDatabaseOptions {
  /** A PostgreSQL URL (`DATABASE_URL`); when absent the embedded PGlite is used. */
  url?: string | undefined;
  /** Data folder for PGlite (each service gets `dataDir/<schema>`); undefined = in memory. */
  dataDir?: string | undefined;
  schema: string;
  poolSizeMax?: number;
  /**
   * PGlite in a folder: the integrity checks at start and every
   * `intervalMs` (default ten minutes); false: none (the folder is still
   * inspected, and created with data checksums). Ignored on PostgreSQL.
   */
  integrity?: IntegrityOptions | false;
}

export function openDatabase(options: OpenDatabaseOptions): Promise<Database> {
  if (options.url) {
    return openPostgres({ url: options.url, schema: options.schema, poolSizeMax: options.poolSizeMax ?? 10 });
  }
  const dataDir = options.dataDir === undefined ? undefined : join(options.dataDir, options.schema);
  return openPglite({
    schema: options.schema,
    ...(dataDir === undefined ? {} : { dataDir }),
    ...(options.integrity === undefined ? {} : { integrity: options.integrity }),
  });
}
