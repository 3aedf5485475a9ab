// The header's search box: asks discovery's search for services, parts,
// topics and pods as the user types, and lists links to their pages.

import { h } from "./dom";
import { query } from "./graphql";
import { searchQuery, type SearchData, type SearchHit } from "./queries";
import { href, hrefOfId } from "./router";

function hitText(hit: SearchHit): { title: string; detail: string } {
  const where = hit.component ? `${hit.component.service.name} / ${hit.component.name}` : "";
  switch (hit.__typename) {
    case "Service":
      return { title: hit.name ?? hit.id, detail: "service" };
    case "Component":
      return { title: hit.name ?? hit.id, detail: `component of ${hit.service?.name ?? "?"}` };
    case "Topic":
      return { title: hit.name ?? hit.id, detail: `topic · ${hit.message ?? ""}` };
    case "Pod":
      return { title: hit.name ?? hit.id, detail: `pod${hit.namespace ? " in " + hit.namespace : ""}` };
    default:
      return { title: hit.name ?? hit.topic?.name ?? hit.id, detail: `${hit.__typename} in ${where}` };
  }
}

function hitHref(hit: SearchHit): string {
  // Parts without a page of their own open their component.
  return hitHref0(hit) || (hit.component ? href("component", hit.component.id) : "");
}

function hitHref0(hit: SearchHit): string {
  return ["Service", "Component", "Processor", "Topic", "Pod"].includes(hit.__typename) ? hrefOfId(hit.id) : "";
}

/** setupSearch wires the input and its result list. */
export function setupSearch(input: HTMLInputElement, results: HTMLUListElement, navigate: (href: string) => void): void {
  let timer = 0;
  let controller: AbortController | null = null;
  // close hides the results and cancels a search still waiting or in
  // flight, so its answer cannot reopen the list after navigation.
  const close = () => {
    window.clearTimeout(timer);
    controller?.abort();
    controller = null;
    results.hidden = true;
    results.replaceChildren();
  };
  const run = async (text: string) => {
    controller?.abort();
    const mine = new AbortController();
    controller = mine;
    try {
      const data = await query<SearchData>(searchQuery, { text }, mine.signal);
      if (mine.signal.aborted) return; // closed (navigation) while the answer came
      results.replaceChildren(
        ...(data.search.length
          ? data.search.map((hit) => {
              const t = hitText(hit);
              return h("li", {}, h("a", { href: hitHref(hit), "data-testid": "search-hit" }, h("strong", {}, t.title), h("span", { class: "muted" }, " " + t.detail)));
            })
          : [h("li", { class: "muted" }, "No match")]),
      );
      results.hidden = false;
    } catch (err) {
      if (mine.signal.aborted) return;
      results.replaceChildren(h("li", { class: "error-text" }, `Search failed: ${(err as Error).message}`));
      results.hidden = false;
    }
  };
  input.addEventListener("input", () => {
    window.clearTimeout(timer);
    const text = input.value.trim();
    if (text === "") return close();
    timer = window.setTimeout(() => void run(text), 150);
  });
  input.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape") close();
    if (ev.key === "Enter") {
      const first = results.querySelector("a");
      if (first) {
        close();
        input.value = "";
        input.blur();
        navigate(first.getAttribute("href") ?? "");
      }
    }
  });
  results.addEventListener("click", (ev) => {
    if ((ev.target as Element).closest("a")) {
      close();
      input.value = "";
    }
  });
  document.addEventListener("click", (ev) => {
    if (!(ev.target as Element).closest(".search")) close();
  });
  // Any navigation (a result, a link, a node, back/forward) closes the list.
  window.addEventListener("hashchange", close);
}
