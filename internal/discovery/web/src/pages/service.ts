// A service: its components and how they depend on each other and on
// components of other services, its pods, and the services around it.

import { h } from "../dom";
import { renderGraph, type GraphEdge, type GraphNode } from "../graphview";
import type { PageContext } from "../page";
import { serviceQuery, type ServiceData } from "../queries";
import { href } from "../router";
import { facts, loadPage, pageHeader, podTable } from "./common";

type Service = NonNullable<ServiceData["serviceById"]>;

/** componentElements draws the service's components and their neighbours in other services. */
export function componentElements(svc: Service): { nodes: GraphNode[]; edges: GraphEdge[] } {
  const nodes = new Map<string, GraphNode>();
  const edges: GraphEdge[] = [];
  for (const c of svc.components) {
    nodes.set(c.id, { id: c.id, label: c.name, kind: "component", href: href("component", c.id) });
  }
  const neighbour = (n: { id: string; name: string; service: { name: string } }) => {
    if (!nodes.has(n.id)) nodes.set(n.id, { id: n.id, label: `${n.service.name} / ${n.name}`, kind: "external", href: href("component", n.id) });
  };
  for (const c of svc.components) {
    for (const d of c.dependsOn) {
      neighbour(d);
      edges.push({ source: d.id, target: c.id, kind: "depends" });
    }
    for (const d of c.dependents) {
      if (svc.components.some((x) => x.id === d.id)) continue; // drawn from its dependsOn
      neighbour(d);
      edges.push({ source: c.id, target: d.id, kind: "depends" });
    }
  }
  return { nodes: [...nodes.values()], edges };
}

function partCounts(c: Service["components"][number]): string {
  const parts: [number, string][] = [
    [c.processors.length, "processor"],
    [c.sources.length, "source"],
    [c.sinks.length, "sink"],
    [c.views.length, "view"],
    [c.viewSources.length, "view source"],
    [c.viewSinks.length, "view sink"],
  ];
  return parts.filter(([n]) => n > 0).map(([n, w]) => `${n} ${w}${n === 1 ? "" : "s"}`).join(", ") || "no parts";
}

function serviceLinks(list: { id: string; name: string }[]): Node {
  if (list.length === 0) return document.createTextNode("none");
  return h("span", {}, list.flatMap((s, i) => [i ? ", " : "", h("a", { href: href("service", s.id) }, s.name)]));
}

export function renderService(ctx: PageContext): Promise<void> {
  return loadPage<ServiceData, Service>(ctx, serviceQuery, { id: ctx.route.id }, (d) => d.serviceById, "service", (svc) => {
    const graphBox = h("div", { class: "graph graph-medium", "data-testid": "service-graph" });
    ctx.root.append(
      pageHeader("service", svc.name, [h("a", { href: href("map") }, "map")], svc.description),
      facts([
        ["Reads from", serviceLinks(svc.dependsOn)],
        ["Read by", serviceLinks(svc.dependents)],
        ["Pods", `${svc.pods.length} (${svc.pods.filter((p) => p.healthy).length} healthy)`],
      ]),
      failingPods(svc.pods),
      h("h2", {}, "Components"),
      graphBox,
      h(
        "ul",
        { class: "cards", "data-testid": "component-list" },
        svc.components.map((c) =>
          h("li", { class: "card" }, h("a", { href: href("component", c.id), "data-testid": "component-link" }, c.name), h("p", { class: "muted" }, partCounts(c)), c.description ? h("p", {}, c.description) : null),
        ),
      ),
      h("h2", {}, "Pods"),
      podTable(svc.pods),
    );
    const { nodes, edges } = componentElements(svc);
    if (nodes.length === 0) {
      graphBox.replaceWith(h("p", { class: "muted" }, "This service reports no components."));
      return;
    }
    const view = renderGraph(graphBox, nodes, edges, { onNavigate: ctx.navigate });
    ctx.setGraph(view);
    ctx.onCleanup(() => view.destroy());
  });
}

/** A visible alert naming the service's pods whose last scrape failed. */
function failingPods(pods: { name: string; healthy: boolean; lastError: string | null }[]): Node {
  const failing = pods.filter((p) => !p.healthy);
  if (failing.length === 0) return document.createTextNode("");
  return h(
    "div",
    { class: "alert", role: "alert", "data-testid": "failing-pods" },
    `${failing.length} of ${pods.length} pod${pods.length === 1 ? "" : "s"} failing: `,
    failing.map((p, i) => [i ? "; " : "", h("strong", {}, p.name), `: ${p.lastError ?? "never answered"}`]).flat(),
  );
}
