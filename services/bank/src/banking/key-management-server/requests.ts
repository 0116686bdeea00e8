/**
 * The key management server's request kinds (SA2pMP §5.2: "KMS deals with
 * receipt and storage of the public key, as well as initiating messages
 * notifying the client [to] renew the key pair currently in use"), as the
 * business logic server's dispatcher calls them: each takes the request the
 * authentication server opened and answers the kind's result.
 *
 * - `devices` → listDevices
 * - `revoke_device` → revokeDevice
 * - `renewal_notices` → listRenewalNotices
 * - `renew_key` → renewKey
 */
export { listDevices, revokeDevice } from './devices.ts';
export { renewKey } from './renew-key.ts';
export { listRenewalNotices } from './renewal-notices.ts';
