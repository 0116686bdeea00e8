import { isMpayError } from '@mpay/protocol';
import type { JSX } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { apiUrl, loadConfig } from '../config.ts';
import { Busy, ErrorNotice, Page } from '../ui/components.tsx';
import { mount } from '../ui/mount.tsx';
import { type CartView, type ProductView, ShopClient } from './api.ts';
import { CartCard, Catalogue } from './catalogue.tsx';
import { Checkout } from './checkout.tsx';
import { OrderStatusView } from './order.tsx';
import { type CartHandle, type OrderHandle, readCart, readOrder, writeCart, writeOrder } from './session.ts';
import './shop.css';

type View = 'shelf' | 'checkout' | 'order';

/** The stored cart is gone (forgotten by the shop) or became an order: start a fresh one. */
function isStaleCart(error: unknown): boolean {
  return isMpayError(error, 'CART_UNKNOWN') || isMpayError(error, 'CART_CHECKED_OUT');
}

/**
 * Merkur Trade's web shop (iMS §2.1, mobile e-commerce): the shelf, a cart
 * the shop prices, checkout with the customer's phone number, then the
 * order followed live through payment and shipment.
 */
function Shop(): JSX.Element {
  const [client, setClient] = useState<ShopClient | undefined>();
  const [products, setProducts] = useState<readonly ProductView[] | undefined>();
  const [cartHandle, setCartHandle] = useState<CartHandle | undefined>(readCart);
  const [cart, setCart] = useState<CartView | undefined>();
  const [orderHandle, setOrderHandle] = useState<OrderHandle | undefined>(readOrder);
  const [view, setView] = useState<View>(() => (readOrder() === undefined ? 'shelf' : 'order'));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();

  const load = async () => {
    setError(undefined);
    try {
      const config = await loadConfig();
      const shop = new ShopClient(apiUrl(config, 'shop'));
      setClient(shop);
      setProducts(await shop.products());
      const stored = readCart();
      if (stored !== undefined) {
        try {
          setCart(await shop.cart(stored.cartId, stored.cartToken));
        } catch (caught) {
          if (!isStaleCart(caught)) throw caught;
          writeCart(undefined);
          setCartHandle(undefined);
        }
      }
    } catch (caught) {
      setError(caught);
    }
  };
  useEffect(() => {
    void load();
  }, []);

  const run = async (work: () => Promise<void>) => {
    setBusy(true);
    setError(undefined);
    try {
      await work();
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  };

  const newCart = async (shop: ShopClient): Promise<CartHandle> => {
    const created = await shop.createCart();
    const handle = { cartId: created.cartId, cartToken: created.cartToken };
    writeCart(handle);
    setCartHandle(handle);
    return handle;
  };

  const setQuantity = (product: ProductView, quantity: number) =>
    run(async () => {
      if (client === undefined) return;
      const handle = cartHandle ?? (await newCart(client));
      try {
        setCart(await client.setLine(handle.cartId, handle.cartToken, product.id, quantity));
      } catch (caught) {
        if (!isStaleCart(caught)) throw caught;
        const fresh = await newCart(client);
        setCart(await client.setLine(fresh.cartId, fresh.cartToken, product.id, quantity));
      }
    });

  const pay = (phone: string) =>
    run(async () => {
      if (client === undefined || cartHandle === undefined) return;
      // A retry after a lost answer checks out the same cart: the shop answers the same order.
      const { order, orderToken } = await client.checkout(cartHandle.cartId, cartHandle.cartToken, phone);
      const handle = { orderId: order.orderId, orderToken };
      writeOrder(handle);
      writeCart(undefined);
      setCartHandle(undefined);
      setCart(undefined);
      setOrderHandle(handle);
      setView('order');
    });

  const shopAgain = () => {
    writeOrder(undefined);
    setOrderHandle(undefined);
    setError(undefined);
    setView('shelf');
  };

  const itemCount = useMemo(() => (cart?.lines ?? []).reduce((sum, line) => sum + line.quantity, 0), [cart]);

  let content: JSX.Element;
  if (view === 'order' && client !== undefined && orderHandle !== undefined) {
    content = <OrderStatusView client={client} handle={orderHandle} onShopAgain={shopAgain} />;
  } else if (view === 'checkout' && cart !== undefined && cart.lines.length > 0) {
    content = (
      <Checkout
        cart={cart}
        busy={busy}
        error={error}
        onPay={(phone) => void pay(phone)}
        onBack={() => {
          setError(undefined);
          setView('shelf');
        }}
      />
    );
  } else if (products === undefined) {
    content =
      error === undefined ? (
        <Busy label="Opening the shop…" />
      ) : (
        <ErrorNotice error={error} onRetry={() => void load()} />
      );
  } else {
    content = (
      <>
        <ErrorNotice error={error} />
        <Catalogue
          products={products}
          cart={cart}
          busy={busy}
          onSetQuantity={(product, quantity) => void setQuantity(product, quantity)}
        />
        <CartCard
          cart={cart}
          busy={busy}
          onRemove={(productId) => {
            const product = products.find((candidate) => candidate.id === productId);
            if (product !== undefined) void setQuantity(product, 0);
          }}
          onCheckout={() => {
            setError(undefined);
            setView('checkout');
          }}
        />
      </>
    );
  }
  return (
    <Page
      title="Merkur Trade"
      owner="Coffee and kitchen · pay with your phone"
      actions={
        view === 'shelf' && itemCount > 0 ? (
          <span class="cart-count" aria-live="polite">
            Cart: {itemCount}
          </span>
        ) : undefined
      }
    >
      {content}
    </Page>
  );
}

mount(Shop);
