import jsQR from 'jsqr';

/**
 * Reads a QR code from a picture, in the page: a photo from the phone's
 * camera (`<input type="file" accept="image/*" capture="environment">`) or an
 * uploaded image. Nothing leaves the phone; the text of the code is returned
 * as read, unverified: what it says is for its reader to check (a till's code
 * goes to `Wallet.readTillQr`, which verifies the merchant's signature).
 *
 *   const result = await readQrCode(file);
 *   if (result.ok) use(result.text); else show(qrReadProblemText[result.problem]);
 */

/** Limits of reading a picture; named, validated, frozen. */
export interface QrReadLimits {
  /** Largest picture accepted, in bytes (a phone's photo is a few megabytes). */
  readonly imageBytesMax: number;
  /** Largest picture accepted, in pixels (width × height), before it is scaled down. */
  readonly imagePixelsMax: number;
  /** The picture is scaled to at most this many pixels on its longer side before decoding: a till's code stays readable, and decoding stays quick. */
  readonly decodeSidePixelsMax: number;
}

export const defaultQrReadLimits: QrReadLimits = Object.freeze({
  imageBytesMax: 20 * 1024 * 1024,
  imagePixelsMax: 50_000_000,
  decodeSidePixelsMax: 1600,
});

/** Why a picture gave no code. */
export type QrReadProblem = 'too-large' | 'not-an-image' | 'no-code';

export type QrReadResult =
  | { readonly ok: true; readonly text: string }
  | { readonly ok: false; readonly problem: QrReadProblem };

/** What to tell the person holding the phone, per problem. */
export const qrReadProblemText: Readonly<Record<QrReadProblem, { title: string; advice: string }>> =
  Object.freeze({
    'too-large': {
      title: 'The picture is too large',
      advice: 'Take the photo again, or choose a smaller picture of the QR code.',
    },
    'not-an-image': {
      title: 'This file is not a picture',
      advice: 'Choose a photo or a screenshot of the QR code.',
    },
    'no-code': {
      title: 'No QR code found in the picture',
      advice: 'Take the photo again, closer and in focus, with the whole code in the frame.',
    },
  });

/** Pixels as ImageData holds them: RGBA, row by row. */
export interface QrPixels {
  readonly data: Uint8ClampedArray;
  readonly width: number;
  readonly height: number;
}

/** The text of the QR code in the pixels, or undefined when none can be read. Pure: runs anywhere. */
export function decodeQrPixels(pixels: QrPixels): string | undefined {
  const { data, width, height } = pixels;
  if (!Number.isSafeInteger(width) || !Number.isSafeInteger(height) || width < 1 || height < 1)
    return undefined;
  if (data.length !== width * height * 4) throw new Error('assertion failed: RGBA pixels, 4 bytes each');
  const code = jsQR(data, width, height, { inversionAttempts: 'attemptBoth' });
  return code === null || code.data === '' ? undefined : code.data;
}

function validated(limits: QrReadLimits): QrReadLimits {
  for (const [name, value] of Object.entries(limits))
    if (!Number.isSafeInteger(value) || value < 1)
      throw new Error(`QR read limits: ${name} must be a positive integer`);
  return limits;
}

/** The picture's pixels, scaled down to the decoding size. */
async function pixelsOf(image: Blob, limits: QrReadLimits): Promise<QrPixels | QrReadProblem> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(image);
  } catch {
    return 'not-an-image';
  }
  const { width, height } = bitmap;
  if (width * height > limits.imagePixelsMax) {
    bitmap.close();
    return 'too-large';
  }
  const scale = Math.min(1, limits.decodeSidePixelsMax / Math.max(width, height));
  const targetWidth = Math.max(1, Math.round(width * scale));
  const targetHeight = Math.max(1, Math.round(height * scale));
  const canvas =
    typeof OffscreenCanvas === 'function'
      ? new OffscreenCanvas(targetWidth, targetHeight)
      : Object.assign(document.createElement('canvas'), { width: targetWidth, height: targetHeight });
  const context = canvas.getContext('2d', { willReadFrequently: true }) as
    | OffscreenCanvasRenderingContext2D
    | CanvasRenderingContext2D
    | null;
  if (context === null) {
    bitmap.close();
    throw new Error('this browser draws no 2D canvas');
  }
  // A white background: a transparent screenshot of a code reads as black on black otherwise.
  context.fillStyle = '#fff';
  context.fillRect(0, 0, targetWidth, targetHeight);
  context.imageSmoothingQuality = 'high';
  context.drawImage(bitmap, 0, 0, targetWidth, targetHeight);
  bitmap.close();
  return context.getImageData(0, 0, targetWidth, targetHeight);
}

/**
 * Reads the QR code in a picture, decoded in the page with jsQR. The answer
 * says what the code holds, or why there was none: a picture over the limits,
 * a file that is not a picture, or no readable code in it.
 */
export async function readQrCode(
  image: Blob,
  limits: QrReadLimits = defaultQrReadLimits,
): Promise<QrReadResult> {
  const checked = validated(limits);
  if (image.size > checked.imageBytesMax) return { ok: false, problem: 'too-large' };
  const pixels = await pixelsOf(image, checked);
  if (typeof pixels === 'string') return { ok: false, problem: pixels };
  const text = decodeQrPixels(pixels);
  return text === undefined ? { ok: false, problem: 'no-code' } : { ok: true, text };
}
