import type { Campaign } from '../harness.ts';
import { envelopeCampaigns } from './envelope.ts';
import { merkleCampaigns } from './merkle.ts';
import { protocolCampaigns } from './protocol.ts';
import { serviceCampaigns } from './services.ts';

/** Every campaign, in the order `npm run fuzz` runs them. */
export const campaigns: readonly Campaign[] = [
  ...protocolCampaigns,
  ...envelopeCampaigns,
  ...merkleCampaigns,
  ...serviceCampaigns,
];
