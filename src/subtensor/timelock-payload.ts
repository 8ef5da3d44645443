import { type Bytes, type Struct, TypeRegistry, type u16, type u64, type Vec } from "@polkadot/types";
import type { Codec, Registry } from "@polkadot/types/types";
import { u8aToHex } from "@polkadot/util";

/**
 * What a timelocked weights commit encrypts: SCALE `WeightsTlockPayload { hotkey: Vec<u8>,
 * uids: Vec<u16>, values: Vec<u16>, version_key: u64 }` (bittensor-drand `src/drand.rs`; the chain
 * decodes it at reveal and requires `hotkey` to be the committing hotkey's 32-byte public key).
 * Taken from the chain's metadata when a runtime exports the type; else defined here under the
 * chain's name, the one type this adapter writes by hand.
 */
export interface WeightsTlockPayload {
  /** The hotkey's public key (32 bytes), not its SS58 address. */
  hotkey: Uint8Array;
  uids: number[];
  values: number[];
  versionKey: bigint;
}

const TYPE_NAME = "WeightsTlockPayload";
const DEFINITION = { hotkey: "Vec<u8>", uids: "Vec<u16>", values: "Vec<u16>", version_key: "u64" };

let ownRegistry: TypeRegistry | null = null;
/** The metadata's lookup name for the type, or null: scanning the lookup costs milliseconds, so once per registry. */
const inMetadata = new WeakMap<Registry, string | null>();

/** The registry and type name to encode the payload with: the metadata's own type if there is one. */
function payloadType(registry?: Registry): { registry: Registry; type: string } {
  if (registry) {
    if (!inMetadata.has(registry)) {
      const found = registry.lookup.types.find((t) => t.type.path.length > 0 && t.type.path[t.type.path.length - 1]?.toString() === TYPE_NAME);
      inMetadata.set(registry, found ? registry.createLookupType(found.id) : null);
    }
    const type = inMetadata.get(registry);
    if (type) return { registry, type };
  }
  if (!ownRegistry) {
    ownRegistry = new TypeRegistry();
    ownRegistry.register({ [TYPE_NAME]: DEFINITION });
  }
  return { registry: ownRegistry, type: TYPE_NAME };
}

export function encodeWeightsTlockPayload(payload: WeightsTlockPayload, registry?: Registry): Uint8Array {
  const { registry: r, type } = payloadType(registry);
  return r
    // a hex string: polkadot-js reads a Uint8Array given for Vec<u8> as already length-prefixed
    .createType(type, { hotkey: u8aToHex(payload.hotkey), uids: payload.uids, values: payload.values, version_key: payload.versionKey })
    .toU8a();
}

export function decodeWeightsTlockPayload(bytes: Uint8Array, registry?: Registry): WeightsTlockPayload {
  const { registry: r, type } = payloadType(registry);
  const s = r.createType<Struct>(type, bytes);
  // Metadata types name fields in camelCase, the hand definition as the chain does.
  const field = <T extends Codec>(snake: string, camel: string): T => (s.get(snake) ?? s.get(camel)) as T;
  return {
    hotkey: field<Bytes>("hotkey", "hotkey").toU8a(true),
    uids: field<Vec<u16>>("uids", "uids").map((x) => x.toNumber()),
    values: field<Vec<u16>>("values", "values").map((x) => x.toNumber()),
    versionKey: field<u64>("version_key", "versionKey").toBigInt(),
  };
}
