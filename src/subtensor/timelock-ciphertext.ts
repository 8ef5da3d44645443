/**
 * The parts of a serialized `TLECiphertext<TinyBLS381>` (timelock crate, ark-serialize
 * compressed), the bytes Subtensor stores as a timelocked weights commit:
 *   u (96 bytes, a compressed G2 point) · v · w · body · cipher_suite,
 * the last four each a Vec<u8> with a u64 little-endian length; body is itself a serialized
 * `AESOutput { ciphertext, nonce }` (AES-GCM: ciphertext = plaintext + 16-byte tag, 12-byte nonce).
 * Used to check that a commit has the shape the chain will deserialize before it is paid for.
 */
export interface TimelockCiphertext {
  u: Uint8Array;
  v: Uint8Array;
  w: Uint8Array;
  body: Uint8Array;
  aes: { ciphertext: Uint8Array; nonce: Uint8Array };
  cipherSuite: string;
}

export class TimelockCiphertextMalformed extends Error {
  override readonly name = "TimelockCiphertextMalformed";
  readonly code = "TimelockCiphertextMalformed";
}

const G2_COMPRESSED = 96;

class Reader {
  at = 0;
  constructor(readonly bytes: Uint8Array) {}

  take(n: number, what: string): Uint8Array {
    if (n > this.bytes.length - this.at) throw new TimelockCiphertextMalformed(`${what}: needs ${n} bytes at offset ${this.at}, ${this.bytes.length - this.at} left`);
    const out = this.bytes.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }

  vec(what: string): Uint8Array {
    const prefix = this.take(8, `${what} length`);
    const len = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
    if (len > BigInt(this.bytes.length)) throw new TimelockCiphertextMalformed(`${what}: length ${len} exceeds the ${this.bytes.length} bytes given`);
    return this.take(Number(len), what);
  }
}

export function parseTimelockCiphertext(bytes: Uint8Array): TimelockCiphertext {
  const r = new Reader(bytes);
  const u = r.take(G2_COMPRESSED, "u");
  const v = r.vec("v");
  const w = r.vec("w");
  const body = r.vec("body");
  const cipherSuite = new TextDecoder().decode(r.vec("cipher_suite"));
  if (r.at !== bytes.length) throw new TimelockCiphertextMalformed(`${bytes.length - r.at} bytes after cipher_suite`);
  const b = new Reader(body);
  const aes = { ciphertext: b.vec("body ciphertext"), nonce: b.vec("body nonce") };
  if (b.at !== body.length) throw new TimelockCiphertextMalformed(`${body.length - b.at} bytes after the body's nonce`);
  return { u, v, w, body, aes, cipherSuite };
}
