import type { JSX } from 'preact';
import { Card, Page } from '../ui/components.tsx';
import { mount } from '../ui/mount.tsx';

function Home(): JSX.Element {
  return (
    <Page title="mpay" owner="Secure mobile payments">
      <Card title="Customers">
        <p>
          <a href="/wallet/">Wallet</a>: pay at a till or in a shop, answer payment requests, mobile banking.
        </p>
      </Card>
      <Card title="Merchants">
        <p>
          <a href="/shop/">Shop</a>: the merchant's web shop. <a href="/till/">Till</a>: take a payment at the
          counter with a signed QR code.
        </p>
      </Card>
      <Card title="Operators">
        <p>
          <a href="/console/">Console</a>: payments, banks' ledgers and positions, settlement, the
          transparency log.
        </p>
      </Card>
    </Page>
  );
}

mount(Home);
