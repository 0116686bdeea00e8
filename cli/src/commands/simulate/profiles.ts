/**
 * The network profiles of `mpay simulate`: the device's link to the
 * platform. RTT, bandwidth each way and loss come from published emulation
 * presets (cited per profile, repeated in docs/mobile-study.md); where a
 * preset has no loss, the loss is the one of the nearest "lossy" preset and
 * says so. They describe typical, not best or worst, conditions.
 */
import type { LinkProfile } from './shaper.ts';

export const networkProfileIds = ['gprs', 'edge', '3g', '4g', 'wifi'] as const;
export type NetworkProfileId = (typeof networkProfileIds)[number];

export interface NetworkProfile extends LinkProfile {
  readonly id: NetworkProfileId;
  readonly label: string;
  /** Where the numbers come from. */
  readonly source: string;
}

export const networkProfiles: Readonly<Record<NetworkProfileId, NetworkProfile>> = {
  gprs: {
    id: 'gprs',
    label: '2G GPRS',
    rttMs: 500,
    downBitsPerSecond: 50_000,
    upBitsPerSecond: 20_000,
    loss: 0.01,
    source:
      'Firefox DevTools throttling "GPRS" (50 kbit/s down, 20 kbit/s up, 500 ms latency); loss 1 % from BrowserStack\'s "2g-gprs-good" profile (50/30 kbit/s, 500 ms, 1 %)',
  },
  edge: {
    id: 'edge',
    label: '2G EDGE',
    rttMs: 840,
    downBitsPerSecond: 240_000,
    upBitsPerSecond: 200_000,
    loss: 0.01,
    source:
      'WebPageTest connectivity.ini "Edge" ("Mobile Edge (240 Kbps/200 Kbps 840ms RTT)", plr 0); loss 1 % from BrowserStack\'s "edge-lossy" profile',
  },
  '3g': {
    id: '3g',
    label: '3G',
    rttMs: 300,
    downBitsPerSecond: 1_600_000,
    upBitsPerSecond: 768_000,
    loss: 0.01,
    source:
      'WebPageTest connectivity.ini "3G" ("3G (1.6 Mbps/768 Kbps 300ms RTT)"); loss 1 % from BrowserStack\'s "3g-umts-lossy" and "3.5g-hspa-lossy" profiles',
  },
  '4g': {
    id: '4g',
    label: '4G (LTE)',
    rttMs: 70,
    downBitsPerSecond: 12_000_000,
    upBitsPerSecond: 12_000_000,
    loss: 0,
    source: 'WebPageTest connectivity.ini "LTE" ("LTE (12 Mbps, 70ms RTT)", plr 0)',
  },
  wifi: {
    id: 'wifi',
    label: 'Wi-Fi',
    rttMs: 2,
    downBitsPerSecond: 30_000_000,
    upBitsPerSecond: 15_000_000,
    loss: 0,
    source: 'Firefox DevTools throttling "Wi-Fi" (30 Mbit/s down, 15 Mbit/s up, 2 ms latency)',
  },
};

/** `2g` names both 2G profiles. */
export function expandProfileName(name: string): readonly NetworkProfileId[] | undefined {
  if (name === '2g') return ['gprs', 'edge'];
  return (networkProfileIds as readonly string[]).includes(name) ? [name as NetworkProfileId] : undefined;
}
