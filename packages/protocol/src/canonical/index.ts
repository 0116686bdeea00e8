export {
  CANONICAL_NESTING_DEPTH_MAX,
  type CanonicalizeOptions,
  canonicalBytes,
  canonicalize,
} from './canonicalize.ts';
