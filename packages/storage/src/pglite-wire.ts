/**
 * The frontend messages a statement on PGlite is sent as (PostgreSQL's
 * protocol 3.0, "Message Formats"): Parse, Bind, Describe portal, Execute,
 * Sync, Close statement and Query, written into one buffer.
 *
 * PGlite's own serializer (`protocol.serialize`) builds each message in a
 * DataView behind WeakMap-held private fields, then copies it out; profiled
 * under `mpay bench e2e`, it was about a thirtieth of the servers' CPU. This
 * writes the same bytes (the tests compare both) straight into a Buffer that
 * grows as needed and is reused, and hands out one copy of exactly the
 * message's bytes.
 */

/** A Bind parameter as node-postgres's `prepareValue` gives it: text, bytes (sent binary) or NULL. */
export type WireValue = string | Uint8Array | null;

const initialBytes = 1024;

export class FrontendMessages {
  #buffer = Buffer.allocUnsafe(initialBytes);
  #length = 0;

  /** Parse: a statement `name` ('' for the unnamed one) of `text`, its parameter types left to PostgreSQL. */
  parse(name: string, text: string): this {
    const start = this.#begin(0x50);
    this.#cstring(name);
    this.#cstring(text);
    this.#int16(0);
    return this.#end(start);
  }

  /** Bind the unnamed portal to `statement` with `values`, each with its format code; results as text. */
  bind(statement: string, values: readonly WireValue[]): this {
    const start = this.#begin(0x42);
    this.#cstring('');
    this.#cstring(statement);
    this.#int16(values.length);
    for (const value of values) this.#int16(value instanceof Uint8Array ? 1 : 0);
    this.#int16(values.length);
    for (const value of values) {
      if (value === null) this.#int32(-1);
      else if (typeof value === 'string') {
        const at = this.#length;
        this.#int32(0);
        const written = this.#string(value);
        this.#buffer.writeInt32BE(written, at);
      } else {
        this.#int32(value.byteLength);
        this.#reserve(value.byteLength);
        this.#buffer.set(value, this.#length);
        this.#length += value.byteLength;
      }
    }
    this.#int16(0);
    return this.#end(start);
  }

  /** Describe the unnamed portal. */
  describePortal(): this {
    const start = this.#begin(0x44);
    this.#byte(0x50);
    this.#cstring('');
    return this.#end(start);
  }

  /** Execute the unnamed portal, every row. */
  execute(): this {
    const start = this.#begin(0x45);
    this.#cstring('');
    this.#int32(0);
    return this.#end(start);
  }

  sync(): this {
    return this.#end(this.#begin(0x53));
  }

  /** Close the prepared statement `name`. */
  closeStatement(name: string): this {
    const start = this.#begin(0x43);
    this.#byte(0x53);
    this.#cstring(name);
    return this.#end(start);
  }

  /** Query: a script in the simple query protocol. */
  query(script: string): this {
    const start = this.#begin(0x51);
    this.#cstring(script);
    return this.#end(start);
  }

  /** The messages written since the last take, as a new array of exactly their bytes; the buffer is emptied. */
  take(): Uint8Array {
    const bytes = new Uint8Array(this.#length);
    bytes.set(this.#buffer.subarray(0, this.#length));
    this.#length = 0;
    return bytes;
  }

  #begin(type: number): number {
    const start = this.#length;
    this.#byte(type);
    this.#int32(0);
    return start;
  }

  /** Writes the message's length (itself included, its type byte not). */
  #end(start: number): this {
    this.#buffer.writeInt32BE(this.#length - start - 1, start + 1);
    return this;
  }

  #reserve(bytes: number): void {
    const needed = this.#length + bytes;
    if (needed <= this.#buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(needed, this.#buffer.length * 2));
    this.#buffer.copy(grown, 0, 0, this.#length);
    this.#buffer = grown;
  }

  #byte(value: number): void {
    this.#reserve(1);
    this.#buffer[this.#length] = value;
    this.#length += 1;
  }

  #int16(value: number): void {
    this.#reserve(2);
    this.#buffer.writeInt16BE(value, this.#length);
    this.#length += 2;
  }

  #int32(value: number): void {
    this.#reserve(4);
    this.#buffer.writeInt32BE(value, this.#length);
    this.#length += 4;
  }

  /** UTF-8 of `text`; returns its byte length. */
  #string(text: string): number {
    this.#reserve(Buffer.byteLength(text, 'utf8'));
    const written = this.#buffer.write(text, this.#length, 'utf8');
    this.#length += written;
    return written;
  }

  #cstring(text: string): void {
    this.#string(text);
    this.#byte(0);
  }
}
