/**
 * Known answers from golang.org/x/mod/sumdb/note (note_test.go, BSD-3-Clause):
 * keys, the example text and the exact signed notes Go produces for it.
 */
export const peterVerifierKey = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
export const peterSignerKey =
  'PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz';
export const enochVerifierKey = 'EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop';

export const text =
  "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";

export const peterBase64 =
  'x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=';
export const enochBase64 =
  'rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=';
export const peterSig = `\u2014 PeterNeumann ${peterBase64}\n`;
export const enochSig = `\u2014 EnochRoot ${enochBase64}\n`;

export const peter = { name: 'PeterNeumann', keyHash: 0xc74f20a3, base64: peterBase64 };
export const enoch = { name: 'EnochRoot', keyHash: 0xaf0cfe78, base64: enochBase64 };
