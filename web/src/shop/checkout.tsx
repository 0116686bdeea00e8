import { isMsisdn, MpayError } from '@mpay/protocol';
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { Button, Card, ErrorNotice, Field, Form } from '../ui/components.tsx';
import { formatMoney } from '../ui/format.ts';
import { type CartView, minorOf } from './api.ts';

/**
 * Pay with a phone number (iMS §2.1): the shop asks the FSP to send the
 * payment request to the wallet registered under it. A number that is not
 * E.164 is refused here before anything is sent; the shop checks it again.
 */
export function Checkout(props: {
  readonly cart: CartView;
  readonly busy: boolean;
  readonly error: unknown;
  readonly onPay: (phone: string) => void;
  readonly onBack: () => void;
}): JSX.Element {
  const [phone, setPhone] = useState('');
  const [invalid, setInvalid] = useState<unknown>();
  const total = props.cart.total;
  const submit = () => {
    const number = phone.replace(/[\s-]/g, '');
    if (!isMsisdn(number)) {
      setInvalid(new MpayError('PARTY_ID_INVALID', 'phone'));
      return;
    }
    setInvalid(undefined);
    props.onPay(number);
  };
  return (
    <Card title="Pay with your phone">
      <ul class="list" aria-label="Order lines">
        {props.cart.lines.map((line) => (
          <li key={line.productId} class="line">
            <span>
              {line.quantity} × {line.name}
            </span>
            <strong>{formatMoney(minorOf(line.lineTotal), line.lineTotal.currency)}</strong>
          </li>
        ))}
      </ul>
      {total === null ? null : (
        <p class="row shop-total">
          <span>Total</span>
          <strong>{formatMoney(minorOf(total), total.currency)}</strong>
        </p>
      )}
      <Form onSubmit={submit} label="Checkout">
        <Field
          label="Phone number"
          type="tel"
          inputMode="tel"
          autoComplete="tel"
          value={phone}
          onInput={setPhone}
          maxLength={20}
          required
          hint="The number of your mpay wallet, with the country code, e.g. +38970123456. The payment request appears on that phone."
        />
        <ErrorNotice error={invalid ?? props.error} onRetry={() => submit()} />
        <div class="button-row button-row-nowrap">
          <Button type="submit" busy={props.busy}>
            {total === null ? 'Pay' : `Pay ${formatMoney(minorOf(total), total.currency)}`}
          </Button>
          <Button kind="secondary" onClick={props.onBack} disabled={props.busy}>
            Back to the cart
          </Button>
        </div>
      </Form>
    </Card>
  );
}
