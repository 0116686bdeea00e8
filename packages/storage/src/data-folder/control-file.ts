import { crc32c, pageSizeBytes } from './page-checksum.ts';

/**
 * PostgreSQL's control file (global/pg_control) as PGlite 0.3 writes it:
 * PostgreSQL 17 compiled to 32-bit WebAssembly. The offsets below are those
 * of ControlFileData in that build (found by its FLOATFORMAT_VALUE and
 * confirmed by the CRC); every read checks the version, the float format,
 * the block size and the CRC first, so another layout is refused, never
 * misread.
 */
export const controlFilePath = 'global/pg_control';

const controlFileSizeBytes = 8192;
const offsets = Object.freeze({
  controlVersion: 8,
  catalogVersion: 12,
  state: 16,
  floatFormat: 208,
  blockSize: 216,
  relationSegmentBlocks: 220,
  dataChecksumVersion: 252,
  crc: 288,
});
/** pg_control_version of PostgreSQL 17. */
export const supportedControlVersion = 1700;
/** FLOATFORMAT_VALUE: a double every control file carries to catch a foreign float format. */
const floatFormatValue = 1_234_567.0;

/** DBState, in its enum order. */
const clusterStates = Object.freeze([
  'starting up',
  'shut down',
  'shut down in recovery',
  'shutting down',
  'in crash recovery',
  'in archive recovery',
  'in production',
] as const);
export type ClusterState = (typeof clusterStates)[number];

export interface ControlFile {
  readonly controlVersion: number;
  readonly catalogVersion: number;
  readonly state: ClusterState;
  /** Blocks per segment file of a relation (a relation's file `N.1` starts at this block). */
  readonly relationSegmentBlocks: number;
  /** 0: no page checksums; 1: every page written carries one and every page read is checked. */
  readonly dataChecksumVersion: number;
}

/** Why a control file was refused: said to the operator as is. */
export class ControlFileError extends Error {
  override readonly name = 'ControlFileError';
}

function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export function parseControlFile(bytes: Uint8Array): ControlFile {
  if (bytes.length !== controlFileSizeBytes) {
    throw new ControlFileError(`${controlFilePath} is ${bytes.length} bytes, not ${controlFileSizeBytes}`);
  }
  const view = viewOf(bytes);
  if (view.getUint32(offsets.crc, true) !== crc32c(bytes.subarray(0, offsets.crc))) {
    throw new ControlFileError(`${controlFilePath} is damaged: its CRC does not match its contents`);
  }
  const controlVersion = view.getUint32(offsets.controlVersion, true);
  if (controlVersion !== supportedControlVersion) {
    throw new ControlFileError(
      `${controlFilePath} has version ${controlVersion}; this PGlite reads version ${supportedControlVersion} (PostgreSQL 17)`,
    );
  }
  if (
    view.getFloat64(offsets.floatFormat, true) !== floatFormatValue ||
    view.getUint32(offsets.blockSize, true) !== pageSizeBytes
  ) {
    throw new ControlFileError(`${controlFilePath} has a layout this PGlite does not use`);
  }
  const stateIndex = view.getUint32(offsets.state, true);
  const state = clusterStates[stateIndex];
  if (state === undefined)
    throw new ControlFileError(`${controlFilePath} names an unknown state ${stateIndex}`);
  return Object.freeze({
    controlVersion,
    catalogVersion: view.getUint32(offsets.catalogVersion, true),
    state,
    relationSegmentBlocks: view.getUint32(offsets.relationSegmentBlocks, true),
    dataChecksumVersion: view.getUint32(offsets.dataChecksumVersion, true),
  });
}

/** A copy of `bytes` (a valid control file) with data checksums on, and its CRC recomputed. */
export function withDataChecksumsOn(bytes: Uint8Array): Uint8Array {
  parseControlFile(bytes);
  const copy = Uint8Array.from(bytes);
  const view = viewOf(copy);
  view.setUint32(offsets.dataChecksumVersion, 1, true);
  view.setUint32(offsets.crc, crc32c(copy.subarray(0, offsets.crc)), true);
  const parsed = parseControlFile(copy);
  if (parsed.dataChecksumVersion !== 1) throw new Error('assertion failed: data checksums not set');
  return copy;
}
