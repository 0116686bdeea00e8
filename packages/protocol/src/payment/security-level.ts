/** The iMS <type>: "different levels of security have to be implemented for small, medium and large transaction of funds". */
export type SecurityLevel = 'small' | 'medium' | 'large';
