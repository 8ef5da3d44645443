// Signing in: one Epistula-signed POST /v1/sessions; the node answers with an HttpOnly session cookie
// that the reads of this entity's data carry from then on. The signing code loads only when asked.
import { request } from "./api.ts";

export const DEV_KEYS = ["//Alice", "//Bob", "//Charlie", "//Dave", "//Eve", "//Ferdie"] as const;

export interface Signer {
  address: string;
  /** The `0x…` sr25519 signature of `message` (UTF-8). */
  sign(message: string): Promise<string>;
}

async function sha256hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * A devnet development key, signed in the browser (public, well-known keys: devnet only). The
 * keyring signs sr25519 in JavaScript when its WASM is not started: the CSP allows no WebAssembly
 * compilation ('wasm-unsafe-eval'), and one signature per sign-in needs no speed.
 */
export async function devSigner(uri: string): Promise<Signer> {
  const [{ Keyring }, { u8aToHex, stringToU8a }] = await Promise.all([import("@polkadot/keyring"), import("@polkadot/util")]);
  const pair = new Keyring({ type: "sr25519", ss58Format: 42 }).addFromUri(uri);
  return { address: pair.address, sign: async (message) => u8aToHex(pair.sign(stringToU8a(message))) };
}

/** The accounts of the Polkadot wallet extension (it asks the user to allow this site). */
export async function extensionAccounts(): Promise<Array<{ address: string; name: string }>> {
  const { web3Enable, web3Accounts } = await import("@polkadot/extension-dapp");
  const extensions = await web3Enable("propnet dashboard");
  if (extensions.length === 0) throw new Error("no Polkadot wallet extension answered (is one installed and allowed for this site?)");
  return (await web3Accounts()).map((a) => ({ address: a.address, name: a.meta.name ?? a.address }));
}

/** An extension account: the extension shows the message and signs it once (wrapped in <Bytes>, which the node accepts). */
export async function extensionSigner(address: string): Promise<Signer> {
  const [{ web3FromAddress }, { stringToHex }] = await Promise.all([import("@polkadot/extension-dapp"), import("@polkadot/util")]);
  const injected = await web3FromAddress(address);
  const signRaw = injected.signer.signRaw;
  if (!signRaw) throw new Error("this wallet extension cannot sign raw messages");
  return { address, sign: async (message) => (await signRaw({ address, data: stringToHex(message), type: "bytes" })).signature };
}

/** Creates a session for `signer`: node time for the timestamp (the window is 8 s back, 2 s ahead). */
export async function signIn(signer: Signer): Promise<{ expires_at_ms: number }> {
  const clock = await request<{ server_time_ms: number }>("GET", "/v1/time");
  const timestamp = String(clock.ok ? clock.data.server_time_ms : Date.now());
  const uuid = crypto.randomUUID();
  const message = `${await sha256hex("")}.${uuid}.${timestamp}.`;
  const signature = await signer.sign(message);
  const answer = await request<{ token: string; expires_at_ms: number }>("POST", "/v1/sessions", {
    "epistula-version": "2",
    "epistula-timestamp": timestamp,
    "epistula-uuid": uuid,
    "epistula-signed-by": signer.address,
    "epistula-request-signature": signature,
  });
  if (!answer.ok) throw new Error(`${answer.code}: ${answer.message}`);
  sessionStorage.setItem("propnet.signer", signer.address);
  sessionStorage.setItem("propnet.expires", String(answer.data.expires_at_ms));
  return answer.data;
}

/** The address signed in from this tab, while its session lasts. */
export function signedInAs(): string | null {
  const address = sessionStorage.getItem("propnet.signer");
  const expires = Number(sessionStorage.getItem("propnet.expires") ?? 0);
  return address && expires > Date.now() ? address : null;
}
