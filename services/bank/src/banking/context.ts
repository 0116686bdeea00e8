import type { BankingLimits } from '@mpay/protocol';
import type { InterbankRouteContext } from '../http/routes/interbank.ts';

/**
 * How the bank sends a text to a phone (the one-time login codes, the
 * renewal notices): @mpay/sms's SmsSender, an HTTP SMS gateway (the embedded
 * one by default). Throws SERVICE_UNAVAILABLE when the gateway cannot take it.
 */
export interface SmsSender {
  send(message: { readonly to: string; readonly text: string }): Promise<{ readonly id: string }>;
}

/** Where the bank logs its banking transactions (§4.2 transaction log strategy) and how a receipt is checked. */
export interface BankTransactionLogLink {
  readonly url: string;
  /** The log's origin: the audience of signed submissions and the checkpoints' first line. */
  readonly origin: string;
  readonly logVerifierKey: string;
  readonly witnessVerifierKeys: readonly string[];
  /** Cosignatures a receipt's checkpoint needs from those witnesses. */
  readonly witnessesRequired: number;
}

/** What the bank's mobile banking server is configured with (BankServiceOptions.banking). */
export interface BankingOptions {
  /**
   * The bank's OPAQUE server setup (`@serenity-kit/opaque` server.createSetup()):
   * a secret kept with the bank's keys; a new one voids every registered password.
   */
  readonly opaqueServerSetup: string;
  readonly sms: SmsSender;
  /** The third-party log; without it banking transactions are recorded but not submitted. */
  readonly transactionLog?: BankTransactionLogLink | undefined;
  readonly limits?: Partial<BankingLimits> | undefined;
}

/**
 * The mobile banking server of SA2pMP (Figure 5(B)) inside the bank: its
 * authentication server, business logic server, key management server and
 * transaction log server client share the bank's order machinery (transfers
 * across banks go through the existing interbank path) and these.
 */
export interface BankingContext extends InterbankRouteContext {
  readonly newId: () => string;
  readonly banking: {
    readonly limits: BankingLimits;
    readonly opaqueServerSetup: string;
    readonly sms: SmsSender;
    readonly transactionLog: BankTransactionLogLink | undefined;
  };
}
