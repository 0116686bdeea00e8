import { MpayError } from '@mpay/protocol';
import type { PKCS11, Template } from 'pkcs11js';
import { FIND_OBJECTS_MAX } from '../limits.ts';

/** Handles of the objects matching `template`, at most FIND_OBJECTS_MAX + 1 (so "too many" is visible). */
export function findObjects(pkcs11: PKCS11, session: Buffer, template: Template): Buffer[] {
  pkcs11.C_FindObjectsInit(session, template);
  try {
    return pkcs11.C_FindObjects(session, FIND_OBJECTS_MAX + 1);
  } finally {
    pkcs11.C_FindObjectsFinal(session);
  }
}

/**
 * CK_BBOOL attributes of one object, in the order asked. A value that is not
 * one byte is refused rather than read as false: CKA_EXTRACTABLE false is the
 * answer a check hopes for.
 */
export function readBooleans(
  pkcs11: PKCS11,
  session: Buffer,
  object: Buffer,
  types: readonly number[],
): boolean[] {
  const values = pkcs11.C_GetAttributeValue(
    session,
    object,
    types.map((type) => ({ type })),
  );
  return values.map((attribute) => {
    if (attribute.value.length !== 1)
      throw new MpayError('HSM_UNAVAILABLE', `attribute ${attribute.type} is not a CK_BBOOL`);
    return attribute.value[0] !== 0;
  });
}

/** One attribute's bytes. */
export function readBytes(pkcs11: PKCS11, session: Buffer, object: Buffer, type: number): Buffer {
  const [attribute] = pkcs11.C_GetAttributeValue(session, object, [{ type }]);
  return attribute?.value ?? Buffer.alloc(0);
}
