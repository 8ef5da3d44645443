// The dashboard: hash routes (#/ validator, #/entity, #/subaccount/<synthetic>), live updates, stale marking.
import { onStale } from "./api.ts";
import { entityView } from "./entity-view.ts";
import { Live } from "./live.ts";
import "./style.css";
import { subaccountView } from "./subaccount-view.ts";
import { validatorView } from "./validator-view.ts";

const app = document.getElementById("app") as HTMLElement;
const liveBadge = document.getElementById("live") as HTMLElement;
const staleBadge = document.getElementById("stale") as HTMLElement;

const live = new Live((text, ok) => {
  liveBadge.textContent = text;
  liveBadge.className = `pill ${ok ? "ok" : "warn"}`;
});

onStale((stale, since) => {
  document.body.classList.toggle("stale", stale);
  staleBadge.hidden = !stale;
  staleBadge.textContent = stale && since ? `node unreachable since ${new Date(since).toLocaleTimeString()}: showing the last data` : "";
});

let leave: () => void = () => undefined;
let generation = 0;

async function route(): Promise<void> {
  const hash = location.hash.replace(/^#/, "") || "/";
  const mine = ++generation;
  leave();
  leave = () => undefined;
  for (const a of document.querySelectorAll<HTMLAnchorElement>("nav a")) a.classList.toggle("active", a.getAttribute("href") === `#${hash}` || (hash.startsWith("/subaccount/") && a.dataset.nav === "entity"));
  app.setAttribute("aria-busy", "true");
  let stop: () => void;
  if (hash.startsWith("/subaccount/")) stop = await subaccountView(app, live, decodeURIComponent(hash.slice("/subaccount/".length)));
  else if (hash === "/entity") stop = await entityView(app, live);
  else stop = await validatorView(app, live);
  if (mine !== generation) return stop();
  leave = stop;
  app.setAttribute("aria-busy", "false");
  app.dataset.view = hash.split("/")[1] || "validator";
}

window.addEventListener("hashchange", () => void route());
live.start();
void route();
