import type { JSX } from 'preact';
import { Button, Card } from '../ui/components.tsx';
import { formatMoney } from '../ui/format.ts';
import { type CartView, minorOf, type ProductView } from './api.ts';

/** The shelf: every product with its price, and how many of it are in the cart. */
export function Catalogue(props: {
  readonly products: readonly ProductView[];
  readonly cart: CartView | undefined;
  readonly busy: boolean;
  readonly onSetQuantity: (product: ProductView, quantity: number) => void;
}): JSX.Element {
  const quantityOf = (productId: string) =>
    props.cart?.lines.find((line) => line.productId === productId)?.quantity ?? 0;
  return (
    <Card title="Coffee and kitchen">
      <ul class="list shop-products" aria-label="Products">
        {props.products.map((product) => {
          const quantity = quantityOf(product.id);
          return (
            <li key={product.id} class="shop-product">
              <div class="shop-product-text">
                <span class="shop-product-name">{product.name}</span>
                <span class="muted">{formatMoney(minorOf(product.price), product.price.currency)}</span>
              </div>
              {quantity === 0 ? (
                <button
                  type="button"
                  class="button button-secondary shop-add"
                  disabled={props.busy}
                  aria-label={`Add ${product.name} to the cart`}
                  onClick={() => props.onSetQuantity(product, 1)}
                >
                  Add
                </button>
              ) : (
                <QuantityStepper
                  name={product.name}
                  quantity={quantity}
                  busy={props.busy}
                  onChange={(next) => props.onSetQuantity(product, next)}
                />
              )}
            </li>
          );
        })}
      </ul>
    </Card>
  );
}

/** − quantity +, each a real button with a label that names the product. */
function QuantityStepper(props: {
  readonly name: string;
  readonly quantity: number;
  readonly busy: boolean;
  readonly onChange: (quantity: number) => void;
}): JSX.Element {
  return (
    <div class="stepper">
      <button
        type="button"
        class="button button-secondary stepper-button"
        disabled={props.busy}
        aria-label={`One ${props.name} less`}
        onClick={() => props.onChange(props.quantity - 1)}
      >
        −
      </button>
      <output class="stepper-count" aria-label={`${props.name} in the cart`}>
        {props.quantity}
      </output>
      <button
        type="button"
        class="button button-secondary stepper-button"
        disabled={props.busy}
        aria-label={`One more ${props.name}`}
        onClick={() => props.onChange(props.quantity + 1)}
      >
        +
      </button>
    </div>
  );
}

/** The cart: its lines priced by the shop (never by the page), the total, and the way to pay. */
export function CartCard(props: {
  readonly cart: CartView | undefined;
  readonly busy: boolean;
  readonly onRemove: (productId: string) => void;
  readonly onCheckout: () => void;
}): JSX.Element {
  const lines = props.cart?.lines ?? [];
  const total = props.cart?.total ?? null;
  return (
    <Card title="Your cart" testId="cart">
      {lines.length === 0 ? (
        <p class="muted">Your cart is empty. Add something from the shelf.</p>
      ) : (
        <>
          <ul class="list" aria-label="Cart lines">
            {lines.map((line) => (
              <li key={line.productId} class="cart-line">
                <span class="cart-line-name">
                  {line.quantity} × {line.name}
                </span>
                <strong class="cart-line-total">
                  {formatMoney(minorOf(line.lineTotal), line.lineTotal.currency)}
                </strong>
                <button
                  type="button"
                  class="link-button cart-line-remove"
                  disabled={props.busy}
                  aria-label={`Remove ${line.name} from the cart`}
                  onClick={() => props.onRemove(line.productId)}
                >
                  Remove
                </button>
              </li>
            ))}
          </ul>
          {total === null ? null : (
            <p class="row shop-total">
              <span>Total</span>
              <strong data-testid="cart-total">{formatMoney(minorOf(total), total.currency)}</strong>
            </p>
          )}
          <div class="button-row">
            <Button onClick={props.onCheckout} disabled={props.busy}>
              Check out
            </Button>
          </div>
        </>
      )}
    </Card>
  );
}
