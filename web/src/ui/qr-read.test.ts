import QRCode from 'qrcode';
import { describe, expect, it } from 'vitest';
import { decodeQrPixels, type QrPixels } from './qr-read.ts';

/** A QR code drawn as RGBA pixels, black modules on white, with the standard quiet zone of 4 modules. */
function drawn(text: string, moduleSize = 4, options: { inverted?: boolean } = {}): QrPixels {
  const { modules } = QRCode.create(text, { errorCorrectionLevel: 'M' });
  const side = (modules.size + 8) * moduleSize;
  const data = new Uint8ClampedArray(side * side * 4).fill(255);
  for (let y = 0; y < side; y += 1)
    for (let x = 0; x < side; x += 1) {
      const row = Math.floor(y / moduleSize) - 4;
      const column = Math.floor(x / moduleSize) - 4;
      const inside = row >= 0 && column >= 0 && row < modules.size && column < modules.size;
      const dark = inside && modules.get(row, column) === 1;
      const value = dark !== (options.inverted === true) ? 0 : 255;
      data.fill(value, (y * side + x) * 4, (y * side + x) * 4 + 3);
    }
  return { data, width: side, height: side };
}

describe('decodeQrPixels', () => {
  // An EMV merchant-presented payload as a till shows it (its exact bytes do not matter here).
  const payload =
    '00020101021226490010mk.mpay.till0127merkur.trade@merchant.ybank5204599953039785405 7.805802MK6304ABCD';

  it('reads the text of a QR code, byte for byte', () => {
    expect(decodeQrPixels(drawn(payload))).toBe(payload);
  });

  it('reads a code drawn light on dark (a phone screen in dark mode)', () => {
    expect(decodeQrPixels(drawn(payload, 4, { inverted: true }))).toBe(payload);
  });

  it('finds nothing in a blank picture or a picture with a broken code', () => {
    const blank = { data: new Uint8ClampedArray(200 * 200 * 4).fill(255), width: 200, height: 200 };
    expect(decodeQrPixels(blank)).toBeUndefined();
    const broken = drawn(payload);
    // Paint over the middle third of the code: more than its error correction can restore.
    const third = Math.floor(broken.width / 3);
    for (let y = third; y < 2 * third; y += 1)
      (broken.data as Uint8ClampedArray).fill(
        0,
        (y * broken.width + 0) * 4,
        (y * broken.width + broken.width) * 4,
      );
    expect(decodeQrPixels(broken)).toBeUndefined();
  });

  it('refuses pixels that are not RGBA of the stated size', () => {
    expect(() => decodeQrPixels({ data: new Uint8ClampedArray(10), width: 2, height: 2 })).toThrow(
      'assertion failed',
    );
    expect(decodeQrPixels({ data: new Uint8ClampedArray(0), width: 0, height: 0 })).toBeUndefined();
  });
});
