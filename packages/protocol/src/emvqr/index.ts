export { crc16CcittFalse, emvCrcOf } from './crc.ts';
export { currencyNumericCodes, currencyOfNumericCode, numericCodeOfCurrency } from './currency.ts';
export {
  buildEmvPayload,
  type EmvMerchantPresentedCode,
  emvAmountOf,
  emvPayloadLengthMax,
  parseEmvPayload,
} from './payload.ts';
export {
  checkTillCodeTime,
  completeTillCode,
  formatExpiry,
  parseExpiry,
  parseTillCode,
  prepareTillCode,
  referenceLabelOf,
  type TillCode,
  type TillCodeFields,
  type TillCodeTimeOptions,
  tillCodeLayout,
  tillCodeLifetimeSecondsDefault,
  tillCodeLifetimeSecondsMax,
  tillMerchantCategoryCodeDefault,
  tillSigningContext,
  transactionIdOfReferenceLabel,
  type UnsignedTillCode,
} from './till.ts';
export {
  characterCount,
  type EmvDataObject,
  type EmvDataObjectInput,
  emvValueLengthMax,
  encodeDataObject,
  findDataObject,
  parseDataObjects,
} from './tlv.ts';
