export { readBounded as readBoundedFile } from './bounded-read.ts';
export {
  createDeploymentCa,
  defaultHosts,
  defaultIpAddresses,
  issueServiceCertificate,
  type LeafRequest,
  type PemPair,
  type RevokedCertificate,
  signRevocationList,
} from './ca.ts';
export {
  type CaProofCheck,
  type CaProofRole,
  caProofLengthMax,
  certificateSha256,
  verifyCaProof,
} from './ca-proof.ts';
export {
  beginCaRotation,
  type CaRotationReport,
  type CaRotationState,
  caRotationState,
  retireCa,
  switchCa,
} from './ca-rotation.ts';
export {
  createCaTrustAgent,
  createPlainServiceClient,
  createReloadableTlsClient,
  createTlsAgent,
  defaultTlsClientLimits,
  exchangeThrough,
  type PlainServiceClient,
  type ReloadableTlsClient,
  type TlsClientLimits,
  type TlsFetch,
  tlsClientScope,
  tlsFetch,
} from './client.ts';
export { type CertificateSummary, isIssuedBy, summarizeCertificate } from './inspect.ts';
export { createPkiLimits, defaultPkiLimits, type PkiLimits } from './limits.ts';
export { pkiLockFileName } from './lock.ts';
export {
  checkOperatorPermitted,
  defaultPermittedHosts,
  defaultPermittedIpRanges,
  describeSubtree,
  isNamePermitted,
  type NameConstraintSet,
  nameConstraintsOf,
  type PermittedNames,
  parseIpRange,
} from './name-constraints.ts';
export {
  caSubject,
  isHostName,
  isInstitutionId,
  isServiceName,
  parseServiceSubject,
  serviceCommonName,
  serviceSubject,
} from './naming.ts';
export {
  authorizationLengthMax,
  checkPeerInstitution,
  checkTlsPeer,
  institutionOfPeerCertificate,
  type PeerCertificateLike,
  signerClaimedBy,
} from './peer.ts';
export { crlPathOf, isRevoked, loadRevokedSerials, readRevocationList, serialKey } from './revocation.ts';
export {
  type InstitutionRoutes,
  institutionServerTls,
  publicServerTls,
  type ServiceServerTls,
  sharedServerTls,
} from './server.ts';
export {
  checkServiceTlsMaterial,
  type PresentedCertificate,
  presentedCertificateOf,
  type ServiceTls,
  serviceTlsOf,
} from './service-tls.ts';
export {
  type CaRole,
  type CaRotationPaths,
  caPathsOf,
  caRotationPathsOf,
  type DeploymentInstitution,
  type DeploymentService,
  type DeploymentTrust,
  type EnsureReport,
  ensureDeploymentPki,
  issueDeploymentCertificate,
  type LeafAction,
  type ListedCertificate,
  type LoadedCaCertificate,
  type LoadedDeploymentTrust,
  type LoadedPair,
  listDeploymentPki,
  loadCaTrustBundle,
  loadDeploymentCa,
  loadDeploymentCaCertificate,
  loadDeploymentTrust,
  loadDeploymentTrustWithRevocations,
  loadServiceTls,
  type PkiOptions,
  pemBundleOf,
  pkiDirOf,
  type RevokeReport,
  revokeServiceCertificate,
  rotateDeploymentPki,
  type ServiceTlsMaterial,
  servicePathsOf,
  type TrustedCa,
  trustedCaCountMax,
  unconstrainedCaWarning,
} from './store.ts';
