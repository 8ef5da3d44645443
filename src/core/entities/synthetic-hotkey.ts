/**
 * Synthetic hotkeys: `${entity SS58}_${id}`, id matching ^(0|[1-9][0-9]{0,8})$ (DESIGN.md §3.3).
 * SS58 has no underscore, so the last underscore splits. Pinning the id's form avoids Vanta's
 * `int()` accepting "-1", " 7" and "1_000".
 */
const ID = /^(0|[1-9][0-9]{0,8})$/;

export const MAX_SUBACCOUNT_ID = 999_999_999;

export function syntheticHotkey(entity: string, id: number): string {
  return `${entity}_${id}`;
}

/** The entity part and id, or null when the text is not of the synthetic form (the SS58 part is not checked here). */
export function parseSyntheticHotkey(text: string): { entity: string; id: number } | null {
  const at = text.lastIndexOf("_");
  if (at <= 0) return null;
  const idText = text.slice(at + 1);
  if (!ID.test(idText)) return null;
  return { entity: text.slice(0, at), id: Number(idText) };
}
