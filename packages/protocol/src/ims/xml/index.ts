export { imsFromXml, imsJsonToXml, imsToXml } from './ims-xml.ts';
export { defaultXmlLimits, resolveXmlLimits, type XmlLimits, xmlLimitsCeiling } from './limits.ts';
export { parseXmlDocument, type XmlElement } from './parse.ts';
