/**
 * CRC-16/CCITT-FALSE, the checksum of EMV QR codes (EMV QRCPS-MPM §4.7.3):
 * polynomial 0x1021, initial value 0xFFFF, no reflection, no final XOR.
 * Check value: crc16CcittFalse(ASCII '123456789') = 0x29B1.
 */
const polynomial = 0x1021;
const initialValue = 0xffff;

const table: readonly number[] = Object.freeze(
  Array.from({ length: 256 }, (_, byte) => {
    let crc = byte << 8;
    for (let bit = 0; bit < 8; bit += 1) {
      crc = crc & 0x8000 ? ((crc << 1) ^ polynomial) & 0xffff : (crc << 1) & 0xffff;
    }
    return crc;
  }),
);

export function crc16CcittFalse(bytes: Uint8Array): number {
  let crc = initialValue;
  for (const byte of bytes) {
    crc = ((crc << 8) & 0xffff) ^ table[((crc >> 8) ^ byte) & 0xff]!;
  }
  return crc;
}

const encoder = new TextEncoder();

/**
 * The value of tag 63 for `text`: the CRC over the UTF-8 bytes of `text` (which
 * must end with the CRC's own tag and length, '6304'), as four upper-case hex digits.
 */
export function emvCrcOf(text: string): string {
  return crc16CcittFalse(encoder.encode(text)).toString(16).toUpperCase().padStart(4, '0');
}
