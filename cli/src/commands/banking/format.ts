import { formatDecimalBalance } from '@mpay/protocol';
import type {
  BankingBalance,
  BankingBillPayment,
  BankingDevice,
  BankingRenewalNotice,
  BankingStatement,
  BankingTransfer,
} from '@mpay/sdk';

/**
 * How the customer's results read at the terminal, and as JSON for scripts
 * (`--json`: amounts as decimal text of minor units, as the bank wrote them).
 * Pure: the text is tested as it is printed. What the bank wrote reaches the
 * terminal only without control characters.
 */

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
const terminalControls = /[\u0000-\u001f\u007f-\u009f]/g;

export function printable(text: string): string {
  return text.replace(terminalControls, '\uFFFD');
}

export function money(currency: string, minor: bigint): string {
  return `${currency} ${formatDecimalBalance(currency, minor)}`;
}

/** JSON with bigint as decimal text (the wire form of amounts); C1 controls escaped for the terminal. */
export function jsonText(value: unknown): string {
  return `${JSON.stringify(
    value,
    (_key, member) => (typeof member === 'bigint' ? member.toString() : member),
    2,
  ).replace(
    /[\u007f-\u009f]/g,
    (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`,
  )}\n`;
}

export function describeBalance(balance: BankingBalance): string {
  return `account ${balance.accountId}: balance ${money(balance.currency, balance.balance)}, available ${money(balance.currency, balance.available)}\n`;
}

function orderOutcome(order: { state: string; refusalCode?: string | undefined }): string {
  if (order.state === 'completed') return 'completed';
  if (order.state === 'sending')
    return "sending (the payee's bank has not answered yet; it completes or is released)";
  return `refused by the payee's bank (${order.refusalCode ?? 'no code'}); the hold was released`;
}

export function describeTransfer(transfer: BankingTransfer): string {
  return `transfer ${transfer.orderId}: ${money(transfer.currency, transfer.amount)} to ${printable(transfer.payeeId)} ("${printable(transfer.reference)}"): ${orderOutcome(transfer)}\n`;
}

export function describeBillPayment(payment: BankingBillPayment): string {
  return `bill payment ${payment.orderId}: ${money(payment.currency, payment.amount)} to ${printable(payment.billerName)} (${payment.billerId}, reference ${printable(payment.customerReference)}): ${orderOutcome(payment)}\n`;
}

export function describeStatement(statement: BankingStatement): string {
  const lines = [
    `account ${statement.accountId}: balance ${money(statement.currency, statement.balance)}; newest first`,
  ];
  if (statement.lines.length === 0) lines.push('  (no movements)');
  for (const line of statement.lines) {
    const sign = line.direction === 'debit' ? '-' : '+';
    const evidence =
      line.requestId === undefined
        ? ''
        : `  [banking ${line.requestId}${line.receipt === undefined ? ', not yet proved by the log' : ', log receipt'}]`;
    lines.push(
      `  ${printable(line.at)}  ${sign}${money(statement.currency, line.amount).padStart(16)}  ${printable(line.reference ?? '')}${evidence}`,
    );
  }
  if (statement.nextCursor !== undefined) lines.push(`  more: --cursor ${statement.nextCursor}`);
  return `${lines.join('\n')}\n`;
}

export function describeDevices(devices: readonly BankingDevice[]): string {
  const lines = devices.map(
    (device) =>
      `  ${device.current ? '*' : ' '} ${device.serial}  ${printable(device.deviceId).padEnd(24)} SIM ${device.sim}  IMEI ${device.phoneId}  ${device.state.padEnd(7)}  registered ${printable(device.registeredAt)}, key valid until ${printable(device.notAfter)}`,
  );
  return `${devices.length} device(s); * is this one\n${lines.join('\n')}${lines.length === 0 ? '' : '\n'}`;
}

export function describeNotices(notices: readonly BankingRenewalNotice[]): string {
  return notices
    .map(
      (notice) =>
        `renewal notice ${notice.noticeId} for key ${notice.serial} (${printable(notice.createdAt)}): ${printable(notice.reason)}\n`,
    )
    .join('');
}

/** "89389…1234": an identifier with all but its last 4 digits hidden (what the bank's device list shows). */
export function maskedDigits(digits: string): string {
  return `${'*'.repeat(Math.max(0, digits.length - 4))}${digits.slice(-4)}`;
}
