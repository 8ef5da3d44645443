import { AssertionFailure } from "../errors/errors.ts";

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/**
 * What a command did, as it will be stored: a versioned type and a JSON payload in which money is
 * a decimal string of rao. One command yields one effect event (plus any violation it raised).
 */
export interface EventDraft {
  type: string;
  version: number;
  payload: JsonObject;
  /** The payload holds bigints (rao kept exact while a block executes); they are written as decimal strings. */
  bigints?: boolean;
}

const bigintAsString = (_key: string, value: unknown) => (typeof value === "bigint" ? value.toString() : value);

/** The payload as stored: JSON, with any bigint written as its decimal string. */
export function encodePayload(draft: EventDraft): string {
  return draft.bigints ? JSON.stringify(draft.payload, bigintAsString) : JSON.stringify(draft.payload);
}

/** `Transferred@1` -> ["Transferred", 1]. */
export function parseEventType(stored: string): [string, number] {
  const at = stored.lastIndexOf("@");
  const version = Number(stored.slice(at + 1));
  if (at <= 0 || !Number.isInteger(version) || version < 1) {
    throw new AssertionFailure(`malformed event type: ${stored}`);
  }
  return [stored.slice(0, at), version];
}

export function formatEventType(draft: Pick<EventDraft, "type" | "version">): string {
  return `${draft.type}@${draft.version}`;
}
