export * from './security-procedure.ts';
