import { hasControlCharacter, isWellFormedText, utf8Length } from '../bytes.ts';
import { keyNameBytesMax } from '../limits.ts';

const forbiddenInName = /[\p{White_Space}+]/u;

/**
 * c2sp.org/signed-note: a key name is non-empty and has no Unicode spaces and
 * no '+'. Control characters (never allowed in a note), unpaired surrogates and
 * names longer than keyNameBytesMax are refused too.
 */
export function isValidKeyName(name: string): boolean {
  return (
    typeof name === 'string' &&
    name.length > 0 &&
    !forbiddenInName.test(name) &&
    !hasControlCharacter(name, false) &&
    isWellFormedText(name) &&
    utf8Length(name) <= keyNameBytesMax
  );
}
