// Tiny DOM helpers: text only (never HTML), so nothing from the node can run as markup.

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: Array<Node | string>): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const c of children) node.append(c);
  return node;
}

/** A key/value grid; each value has data-testid=`${prefix}-${key}` for the tests. */
export function facts(prefix: string, rows: Array<[string, string, string]>): HTMLElement {
  const dl = el("dl", { class: "facts" });
  for (const [key, label, value] of rows) dl.append(el("dt", {}, label), el("dd", { "data-testid": `${prefix}-${key}` }, value));
  return dl;
}

export function table(head: string[], rows: Array<Array<Node | string>>, testid: string): HTMLTableElement {
  const t = el("table", { "data-testid": testid });
  t.append(el("thead", {}, el("tr", {}, ...head.map((h) => el("th", {}, h)))));
  const body = el("tbody");
  for (const r of rows) body.append(el("tr", {}, ...r.map((c) => el("td", {}, c))));
  t.append(body);
  return t;
}

export function section(title: string, ...children: Array<Node | string>): HTMLElement {
  return el("section", {}, el("h2", {}, title), ...children);
}

/** A bar filled to `fraction` (0..1), with a class for its colour. */
export function bar(fraction: number, kind: string, title: string): HTMLElement {
  const outer = el("span", { class: `bar ${kind}`, title });
  const inner = el("span");
  inner.style.width = `${Math.round(fraction * 100)}%`;
  outer.append(inner);
  return outer;
}
