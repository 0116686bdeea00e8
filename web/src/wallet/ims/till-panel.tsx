import { isMpayError, MpayError } from '@mpay/protocol';
import type { PaymentRequestView, TillOffer, Wallet } from '@mpay/sdk';
import type { JSX } from 'preact';
import { useEffect, useId, useState } from 'preact/hooks';
import { Busy, Button, Card, ErrorNotice, Facts, Form, Notice } from '../../ui/components.tsx';
import { formatMoney, formatTime, shortId } from '../../ui/format.ts';
import { type QrReadProblem, qrReadProblemText, readQrCode } from '../../ui/qr-read.ts';

/** What a customer at a till reads for each way a code can be refused. */
const qrErrorText: Readonly<Record<string, { title: string; advice: string }>> = {
  QR_INVALID: {
    title: 'This is not a payment QR code',
    advice: "The code does not hold a till's payment. Scan the code the till shows for this payment.",
  },
  QR_CRC_INVALID: {
    title: 'The QR code is damaged or was changed',
    advice: 'Its checksum does not match. Scan it again; if it fails again, do not pay with it.',
  },
  QR_UNSUPPORTED: {
    title: 'This QR code is not an mpay till code',
    advice: 'Pay with the app of the payment service that printed it, or ask for an mpay code.',
  },
  QR_SIGNATURE_INVALID: {
    title: "Forged QR code: the merchant's signature does not verify",
    advice:
      'The merchant, the amount or the payment in this code is not what the merchant signed. Do not pay with it, and tell the staff.',
  },
  QR_EXPIRED: {
    title: 'This QR code has expired',
    advice: 'Ask the till for a new code.',
  },
  TRADE_CLAIMED: {
    title: 'Someone else already took this code',
    advice: 'Another phone claimed this payment first. Ask the till for a new code.',
  },
  TRADE_CLAIM_MISMATCH: {
    title: "The till's request is not what its code said",
    advice:
      'The payment request that came does not match the code you scanned (merchant, amount or payment). It is not shown. Do not pay; tell the staff.',
  },
};

type TillState =
  | { readonly step: 'input' }
  | { readonly step: 'reading' }
  | { readonly step: 'offer'; readonly offer: TillOffer }
  | { readonly step: 'claiming'; readonly offer: TillOffer }
  | { readonly step: 'waiting'; readonly offer: TillOffer };

/** A refused code or image, in words, with the stable code for support. */
function QrProblem(props: { readonly error: unknown }): JSX.Element {
  const { error } = props;
  if (typeof error === 'object' && error !== null && 'imageProblem' in error) {
    const text = qrReadProblemText[(error as { imageProblem: QrReadProblem }).imageProblem];
    return (
      <Notice tone="bad" testId="qr-error">
        <strong>{text.title}</strong>
        <p>{text.advice}</p>
      </Notice>
    );
  }
  const code = isMpayError(error) ? error.code : undefined;
  const text = code === undefined ? undefined : qrErrorText[code];
  if (text === undefined) return <ErrorNotice error={error} />;
  return (
    <div class="notice notice-bad" role="alert" data-testid="qr-error" data-code={code}>
      <strong>{text.title}</strong>
      <p>{text.advice}</p>
      <p class="notice-code">Code: {code}</p>
    </div>
  );
}

/**
 * m-trade at a till: the customer pastes the till's code or takes a photo of
 * it (decoded in the page with jsQR). `Wallet.readTillQr` checks the code —
 * CRC, expiry, the merchant's signature under the key the FSP certified —
 * before anything about the customer is sent; the verified offer is shown;
 * "Ask the till for this payment" claims it; the till's payment request then
 * arrives on the live stream and must match the offer exactly.
 */
export function TillPanel(props: {
  readonly wallet: Wallet;
  readonly requests: readonly PaymentRequestView[];
  readonly onRequest: (view: PaymentRequestView, offer: TillOffer) => void;
}): JSX.Element {
  const { wallet } = props;
  const [payload, setPayload] = useState('');
  const [state, setState] = useState<TillState>({ step: 'input' });
  const [error, setError] = useState<unknown>();
  const pasteId = useId();
  const photoId = useId();

  // The till's request for the claimed code, once it arrives on the live stream.
  const waitingFor = state.step === 'waiting' ? state.offer : undefined;
  const onRequest = props.onRequest;
  useEffect(() => {
    if (waitingFor === undefined) return;
    const view = props.requests.find((request) => request.paymentId === waitingFor.transactionId);
    if (view === undefined) return;
    if (!wallet.matchesOffer(view, waitingFor)) {
      setState({ step: 'input' });
      setError(new MpayError('TRADE_CLAIM_MISMATCH'));
      return;
    }
    onRequest(view, waitingFor);
  }, [waitingFor, props.requests, wallet, onRequest]);

  const read = (text: string) => {
    setError(undefined);
    setState({ step: 'reading' });
    wallet.readTillQr(text.trim()).then(
      (offer) => setState({ step: 'offer', offer }),
      (failure: unknown) => {
        setState({ step: 'input' });
        setError(failure);
      },
    );
  };

  const readPhoto = (input: HTMLInputElement) => {
    const file = input.files?.[0];
    input.value = '';
    if (file === undefined) return;
    setError(undefined);
    setState({ step: 'reading' });
    readQrCode(file).then(
      (result) => {
        if (!result.ok) {
          setState({ step: 'input' });
          return setError({ imageProblem: result.problem });
        }
        setPayload(result.text);
        read(result.text);
      },
      (failure: unknown) => {
        setState({ step: 'input' });
        setError(failure);
      },
    );
  };

  const claim = (offer: TillOffer) => {
    setError(undefined);
    setState({ step: 'claiming', offer });
    wallet.claimTill(offer).then(
      () => setState({ step: 'waiting', offer }),
      (failure: unknown) => {
        setState({ step: 'offer', offer });
        setError(failure);
      },
    );
  };

  const reset = () => {
    setPayload('');
    setError(undefined);
    setState({ step: 'input' });
  };

  if (state.step === 'offer' || state.step === 'claiming' || state.step === 'waiting') {
    const { offer } = state;
    const amount = formatMoney(offer.amount.minor, offer.amount.currency);
    return (
      <Card title="Pay at this till" tone="good" testId="till-offer">
        <p class="ims-merchant">{offer.merchantName}</p>
        <p class="ims-verified">
          <span class="badge badge-good">✓ Signed QR code</span> <span class="mono">{offer.merchantId}</span>
        </p>
        {offer.merchantNameCertified === false ? (
          <p class="muted ims-small" data-testid="name-not-certified">
            The payment service has not certified a name for this merchant: check the merchant's id above.
          </p>
        ) : null}
        <p class="muted ims-small">
          The merchant signed this code with the key the payment service certified. Checked on this phone.
        </p>
        <p class="amount">{amount}</p>
        <Facts
          items={[
            ['Expires', formatTime(offer.expiresAt)],
            [
              'Payment',
              <span class="mono" title={offer.transactionId}>
                {shortId(offer.transactionId)}
              </span>,
            ],
          ]}
        />
        <QrProblem error={error} />
        {state.step === 'waiting' ? (
          <Busy label="Waiting for the till's payment request…" />
        ) : (
          <div class="button-row">
            <Button onClick={() => claim(offer)} busy={state.step === 'claiming'}>
              Ask the till for {amount}
            </Button>
            <Button kind="secondary" onClick={reset} disabled={state.step === 'claiming'}>
              Cancel
            </Button>
          </div>
        )}
      </Card>
    );
  }

  return (
    <Card title="Pay at a till">
      <p>Scan the QR code on the till's screen, or paste its text.</p>
      <div class="field">
        <label for={photoId}>Take a photo of the QR code</label>
        <input
          id={photoId}
          type="file"
          accept="image/*"
          capture="environment"
          disabled={state.step === 'reading'}
          onChange={(event) => readPhoto(event.currentTarget as HTMLInputElement)}
        />
      </div>
      <Form onSubmit={() => read(payload)} label="Paste a till's QR code">
        <div class="field">
          <label for={pasteId}>Or paste the code's text</label>
          <textarea
            id={pasteId}
            rows={3}
            class="mono"
            value={payload}
            spellcheck={false}
            autoComplete="off"
            onInput={(event) => setPayload((event.currentTarget as HTMLTextAreaElement).value)}
          />
        </div>
        <Button type="submit" busy={state.step === 'reading'} disabled={payload.trim() === ''}>
          Read the code
        </Button>
      </Form>
      {state.step === 'reading' ? <Busy label="Checking the merchant's signature…" /> : null}
      <QrProblem error={error} />
    </Card>
  );
}
