// Pieces several pages share: the page header, key/value lists, the pod
// table, and loading a query into a page with its loading and error states.

import { clear, h, relativeTime } from "../dom";
import { query } from "../graphql";
import type { PageContext } from "../page";
import type { PodDetail } from "../queries";
import { failure, loading, notFound } from "../states";

/** pageHeader is a page's title with its kind, a trail of links and a description. */
export function pageHeader(kind: string, title: string, trail: Node[], description = ""): HTMLElement {
  return h(
    "header",
    { class: "page-header" },
    trail.length ? h("nav", { class: "trail" }, trail.flatMap((t, i) => (i ? [" / ", t] : [t]))) : null,
    h("h1", {}, h("span", { class: "kind" }, kind), " ", h("span", { "data-testid": "page-title" }, title)),
    description ? h("p", { class: "description" }, description) : null,
  );
}

/** facts is a definition list of label → value. */
export function facts(rows: [string, Node | string][]): HTMLElement {
  return h("dl", { class: "facts" }, rows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

/** podTable lists pods with health, last scrape and last error. */
export function podTable(pods: PodDetail[]): HTMLElement {
  if (pods.length === 0) return h("p", { class: "muted" }, "No pod reports this.");
  return h(
    "table",
    { class: "pods", "data-testid": "pod-table" },
    h("thead", {}, h("tr", {}, h("th", {}, "Pod"), h("th", {}, "Namespace"), h("th", {}, "Address"), h("th", {}, "Health"), h("th", {}, "Last scrape"), h("th", {}, "Last error"))),
    h(
      "tbody",
      {},
      pods.map((p) =>
        h(
          "tr",
          { "data-pod": p.id },
          h("td", {}, p.name),
          h("td", {}, p.namespace || "—"),
          h("td", {}, h("code", {}, p.address)),
          h("td", {}, health(p.healthy)),
          h("td", { title: p.lastScrape ?? "" }, relativeTime(p.lastScrape)),
          h("td", { class: "error-text" }, p.lastError ?? ""),
        ),
      ),
    ),
  );
}

/** health is a coloured badge. */
export function health(ok: boolean): HTMLElement {
  return h("span", { class: ok ? "badge ok" : "badge bad", "data-health": ok ? "healthy" : "unhealthy" }, ok ? "healthy" : "unhealthy");
}

/**
 * loadPage runs a query for a page, showing loading, then either the page
 * (draw) or an error with a retry; pick returns null for an id that names
 * nothing, which shows "not found".
 */
export async function loadPage<D, T>(
  ctx: PageContext,
  doc: string,
  variables: Record<string, unknown>,
  pick: (d: D) => T | null,
  what: string,
  draw: (item: T) => void,
): Promise<void> {
  const { root, signal } = ctx;
  clear(root);
  root.append(loading());
  let item: T | null;
  try {
    item = pick(await query<D>(doc, variables, signal));
  } catch (err) {
    if (signal.aborted) return;
    clear(root);
    root.append(failure(err, () => void loadPage(ctx, doc, variables, pick, what, draw)));
    ctx.ready();
    return;
  }
  if (signal.aborted) return;
  clear(root);
  if (item === null) {
    root.append(notFound(what, ctx.route.id));
    ctx.ready();
    return;
  }
  draw(item);
  ctx.ready();
}
