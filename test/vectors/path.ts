import { fileURLToPath } from 'node:url';

/** Absolute path of a file under test/vectors (external test vectors, checked in with their licences). */
export function vectorPath(relative: string): string {
  return fileURLToPath(new URL(relative, import.meta.url));
}
