/**
 * What every page reads first (`/config.json`, served by the platform's web
 * server): the public facts of this deployment. The pages still verify every
 * signature they show; this only says where the services are and which log
 * keys a receipt must verify under.
 */
export interface WebConfig {
  readonly fspId: string;
  readonly custodyId: string;
  readonly currency: string;
  /** Every bank, with the path of its API behind the web server (`/api/xbank`). */
  readonly banks: readonly { readonly id: string; readonly name: string; readonly api: string }[];
  /** Service → path of its API behind the web server: gateway, custody, shop, log, witness, and each bank id. */
  readonly api: Readonly<Record<string, string>>;
  readonly log: {
    readonly origin: string;
    readonly logVerifierKey: string;
    readonly witnessVerifierKeys: readonly string[];
    readonly witnessesRequired: number;
  };
}

let loaded: Promise<WebConfig> | undefined;

/** The deployment's config, fetched once per page load. */
export function loadConfig(): Promise<WebConfig> {
  loaded ??= fetch('/config.json', { headers: { accept: 'application/json' } }).then(async (response) => {
    if (!response.ok) throw new Error(`config.json: HTTP ${response.status}`);
    return (await response.json()) as WebConfig;
  });
  return loaded;
}

/** The absolute base URL of a service's API for the SDK (`https://host/api/gateway`). */
export function apiUrl(config: WebConfig, service: string): string {
  const path = config.api[service];
  if (path === undefined) throw new Error(`no API named ${service}`);
  return new URL(path, window.location.origin).href.replace(/\/$/, '');
}
