export {
  attachDetached,
  attachPayload,
  type ConsentClaimsKnown,
  consentPayload,
  type DetachedConsent,
  detachPayload,
  isDetachedSign,
  parseDetachedConsent,
  readSignatureClaims,
  type SignatureClaims,
  signedPayloadOf,
} from './consent.ts';
export { accountNumberPattern, imsDescriptionLengthMax, imsSignatureLengthMax } from './fields.ts';
export {
  type ImsJson,
  imsFromJson,
  imsSealedContentLengthMax,
  imsToJson,
  validateImsMessage,
} from './json.ts';
export {
  type ImsAddress,
  type ImsData,
  type ImsMessage,
  type ImsParty,
  type ImsProcedure,
  type ImsSealedData,
  type ImsSigningStage,
  imsProcedures,
  imsSigningStage,
  securityLevels,
} from './message.ts';
export {
  type ImsOrderLine,
  type ImsPrivateData,
  imsOrderLineQuantityMax,
  imsOrderLinesMax,
  imsPrivateDataBytesMax,
  imsPrivateDataFromJson,
  imsPrivateDataFromText,
  imsPrivateDataToText,
} from './private-data.ts';
export {
  certificateReferencePattern,
  deviceCertificatesHeader,
  deviceCertificatesMax,
  fspSignatureKnown,
  merchantSignatureKnown,
  type PushSignatureClaims,
  parseCertificateReference,
  parseCertificateReferences,
  parsePushSignatureClaims,
  pushDetachedSigns,
  pushSignedPayloads,
  withChainSigns,
} from './push.ts';
export {
  type CompactReceipt,
  compactReceiptLengthMax,
  parseCompactReceipt,
  receiptContentOf,
  receiptKnownToPayer,
  receiptSentPart,
  receiptSignatureKnown,
  receiptSignedPayload,
} from './receipt.ts';
export {
  customerDeclineContent,
  customerSignedContent,
  fspSignedContent,
  type ImsDeclineContent,
  type ImsSignedContent,
  type ImsSigner,
  merchantSignedContent,
  signatureValue,
} from './signed-content.ts';
export {
  defaultXmlLimits,
  imsFromXml,
  imsJsonToXml,
  imsToXml,
  parseXmlDocument,
  resolveXmlLimits,
  type XmlElement,
  type XmlLimits,
  xmlLimitsCeiling,
} from './xml/index.ts';
