// The kafmesh UI: a single page that draws the route in the location hash.
// Every route change leaves the old page (its fetches, timers, sockets and
// graph stop) and draws the new one.

import { h } from "./dom";
import type { GraphView } from "./graphview";
import type { PageContext, PageRenderer } from "./page";
import { renderComponent } from "./pages/component";
import { renderGroup, renderGroups } from "./pages/groups";
import { renderPods, renderTopics } from "./pages/lists";
import { renderMap } from "./pages/map";
import { renderProcessor } from "./pages/processor";
import { renderRecords } from "./pages/records";
import { renderService } from "./pages/service";
import { renderTopic } from "./pages/topic";
import { parseRoute, type Page } from "./router";
import { setupSearch } from "./search";
import { watchMeshStatus } from "./status";
import { notFound } from "./states";

const pages: Record<Page, PageRenderer> = {
  map: renderMap,
  records: renderRecords,
  service: renderService,
  component: renderComponent,
  processor: renderProcessor,
  topic: renderTopic,
  topics: renderTopics,
  pods: renderPods,
  groups: renderGroups,
  group: renderGroup,
  notfound: (ctx) => {
    ctx.root.replaceChildren(notFound("page", location.hash));
    ctx.ready();
  },
};

let graph: GraphView | null = null;
let leave: (() => void) | null = null;

window.kafmeshUI = {
  page: "",
  ready: false,
  renders: 0,
  load: `${Date.now()}-${Math.random()}`,
  readyAt: 0,
  timings: {},
  errors: [],
  graph() {
    if (!graph) return null;
    const cy = graph.cy;
    return {
      nodes: cy.nodes().map((n) => ({ id: n.id(), label: String(n.data("label")), classes: n.classes(), parent: String(n.data("parent") ?? "") })),
      edges: cy.edges().map((e) => ({ source: e.source().id(), target: e.target().id(), kind: String(e.data("kind")) })),
    };
  },
  labelPx() {
    return graph ? graph.labelPx() : null;
  },
  nodePoint(id: string) {
    if (!graph) return null;
    const n = graph.cy.getElementById(id);
    if (n.empty()) return null;
    const p = n.renderedPosition();
    const box = graph.cy.container()!.getBoundingClientRect();
    return { x: box.left + p.x, y: box.top + p.y };
  },
};

function show(): void {
  leave?.();
  const route = parseRoute(location.hash);
  const root = document.getElementById("page")!;
  const controller = new AbortController();
  const cleanups: (() => void)[] = [];
  graph = null;
  window.kafmeshUI.page = route.page;
  window.kafmeshUI.ready = false;
  window.kafmeshUI.renders++;
  window.kafmeshUI.timings = {};
  leave = () => {
    controller.abort();
    for (const fn of cleanups.splice(0)) fn();
    graph = null;
  };
  for (const a of document.querySelectorAll<HTMLAnchorElement>("nav a[data-nav]")) {
    a.classList.toggle("active", a.dataset.nav === route.page);
  }
  const ctx: PageContext = {
    root,
    route,
    signal: controller.signal,
    onCleanup: (fn) => cleanups.push(fn),
    navigate: (to) => {
      if (to && to !== location.hash) location.hash = to;
    },
    setGraph: (g) => {
      graph = g;
      if (g) Object.assign(window.kafmeshUI.timings, g.timings);
    },
    ready: () => {
      if (controller.signal.aborted) return;
      window.kafmeshUI.ready = true;
      window.kafmeshUI.readyAt = performance.now();
    },
  };
  Promise.resolve(pages[route.page](ctx)).catch((err: unknown) => {
    // A bug in a page must not leave a blank screen.
    const message = err instanceof Error ? err.message : String(err);
    window.kafmeshUI.errors.push(message);
    root.replaceChildren(h("div", { class: "state error", "data-state": "error", role: "alert" }, h("h2", {}, "This page failed"), h("p", {}, message)));
    ctx.ready();
  });
}

window.addEventListener("error", (ev) => window.kafmeshUI.errors.push(String(ev.message)));
window.addEventListener("unhandledrejection", (ev) => window.kafmeshUI.errors.push(String(ev.reason)));
window.addEventListener("hashchange", show);
setupSearch(document.getElementById("search") as HTMLInputElement, document.getElementById("search-results") as HTMLUListElement, (to) => (location.hash = to));
watchMeshStatus(document.getElementById("mesh-status") as HTMLElement);
show();
