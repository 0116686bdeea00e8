export { isMsisdn, type Msisdn, msisdnDigitsMax, msisdnDigitsMin, parseMsisdn } from './msisdn.ts';
export {
  bankNameLengthMax,
  formatPartyId,
  isPartyId,
  type ParsedPartyId,
  type PartyId,
  type PartyKind,
  parsePartyId,
  partyIdLengthMax,
  partyNameLengthMax,
  reservedBankNames,
} from './party-id.ts';
