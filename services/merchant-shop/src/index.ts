export {
  type Catalogue,
  createCatalogue,
  demoCatalogue,
  type Product,
  type ProductInput,
  parseCatalogueJson,
} from './catalogue/catalogue.ts';
export type { HookNotification, RefundHookNotification, ShopContext, ShopHooks } from './context.ts';
export { createShopLimits, defaultShopLimits, type ShopLimits } from './limits.ts';
export type { Notification, NotificationOutcome, PaymentNotification } from './notifications/store.ts';
export type { ShipmentAction } from './orders/shipment.ts';
export type { Order, OrderLine, OrderPayment, Shipment } from './orders/store.ts';
export {
  createMerchantShop,
  type MerchantShop,
  type MerchantShopOptions,
  merchantShopMigrationsFolder,
} from './service.ts';
export type { TillOptions } from './till/config.ts';
export { createTillLimits, defaultTillLimits, type TillLimits } from './till/limits.ts';
export type { SalePublicStatus, SaleState } from './till/state-machine.ts';
