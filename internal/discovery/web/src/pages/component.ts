// A component: every part and the topics they use, drawn as a flow from
// topics through parts to topics. Edge styles tell how a part uses a topic:
// input (solid blue), join (dashed purple), lookup (dotted cyan), output
// (thick green), state (dashed orange, both ways), and the reads and writes
// of sources, sinks and views.

import { h } from "../dom";
import { renderGraph, type EdgeKind, type GraphEdge, type GraphNode, type NodeKind } from "../graphview";
import type { PageContext } from "../page";
import { componentQuery, type ComponentData, type TopicRef } from "../queries";
import { href } from "../router";
import { loadPage, pageHeader } from "./common";

type Component = NonNullable<ComponentData["componentById"]>;

/** topicFlow turns a component's parts and their topics into a graph. */
export function topicFlow(c: Component): { nodes: GraphNode[]; edges: GraphEdge[] } {
  const nodes = new Map<string, GraphNode>();
  const edges: GraphEdge[] = [];
  const topic = (t: TopicRef) => {
    if (!nodes.has(t.id)) nodes.set(t.id, { id: t.id, label: t.name, kind: "topic", href: href("topic", t.id) });
    return t.id;
  };
  const part = (id: string, label: string, kind: NodeKind, link = "") => {
    nodes.set(id, { id, label, kind, href: link || undefined });
    return id;
  };
  const use = (from: string, to: string, kind: EdgeKind) => edges.push({ source: from, target: to, kind });

  for (const p of c.processors) {
    const id = part(p.id, p.name, "processor", href("processor", p.id));
    for (const x of p.inputs) use(topic(x.topic), id, "input");
    for (const x of p.joins) use(topic(x.topic), id, "join");
    for (const x of p.lookups) use(topic(x.topic), id, "lookup");
    for (const x of p.outputs) use(id, topic(x.topic), "output");
    if (p.persistence) use(id, topic(p.persistence), "state");
  }
  for (const s of c.sources) use(part(s.id, `source\n${s.topic.name}`, "source"), topic(s.topic), "produce");
  for (const s of c.viewSources) use(part(s.id, s.name, "viewSource"), topic(s.topic), "produce");
  for (const s of c.sinks) use(topic(s.topic), part(s.id, s.name, "sink"), "read");
  for (const v of c.views) use(topic(v.topic), part(v.id, `view\n${v.topic.name}`, "view"), "read");
  for (const s of c.viewSinks) use(topic(s.topic), part(s.id, s.name, "viewSink"), "read");
  return { nodes: [...nodes.values()], edges };
}

const legendItems: [EdgeKind, string][] = [
  ["input", "input"],
  ["join", "join (same key)"],
  ["lookup", "lookup (any key)"],
  ["output", "output / write"],
  ["state", "state table (read and write)"],
];

function legend(): HTMLElement {
  return h(
    "ul",
    { class: "legend", "data-testid": "edge-legend" },
    legendItems.map(([k, text]) => h("li", {}, h("span", { class: `swatch edge-${k}` }), text)),
  );
}

function partRow(kind: string, name: string, link: string, detail: string): HTMLElement {
  return h("tr", {}, h("td", {}, kind), h("td", {}, link ? h("a", { href: link }, name) : name), h("td", { class: "muted" }, detail));
}

function partTable(c: Component): HTMLElement {
  const rows: HTMLElement[] = [];
  for (const p of c.processors) rows.push(partRow("processor", p.name, href("processor", p.id), `group ${p.groupName}${p.description ? " — " + p.description : ""}`));
  for (const s of c.sources) rows.push(partRow("source", s.topic.name, href("topic", s.topic.id), s.topic.message));
  for (const s of c.sinks) rows.push(partRow("sink", s.name, "", s.description));
  for (const v of c.views) rows.push(partRow("view", v.topic.name, href("topic", v.topic.id), v.topic.message));
  for (const s of c.viewSources) rows.push(partRow("view source", s.name, "", s.description));
  for (const s of c.viewSinks) rows.push(partRow("view sink", s.name, "", s.description));
  return h("table", { class: "parts", "data-testid": "part-table" }, h("thead", {}, h("tr", {}, h("th", {}, "Kind"), h("th", {}, "Name"), h("th", {}, "Details"))), h("tbody", {}, rows));
}

export function renderComponent(ctx: PageContext): Promise<void> {
  return loadPage<ComponentData, Component>(ctx, componentQuery, { id: ctx.route.id }, (d) => d.componentById, "component", (c) => {
    const graphBox = h("div", { class: "graph", "data-testid": "component-graph" });
    const around = (list: Component["dependsOn"]) =>
      list.length ? h("span", {}, list.flatMap((d, i) => [i ? ", " : "", h("a", { href: href("component", d.id) }, `${d.service.name} / ${d.name}`)])) : "none";
    ctx.root.append(
      pageHeader("component", c.name, [h("a", { href: href("map") }, "map"), h("a", { href: href("service", c.service.id) }, c.service.name)], c.description),
      h("p", {}, "Reads from: ", around(c.dependsOn), " · Read by: ", around(c.dependents)),
      legend(),
      graphBox,
      h("h2", {}, "Parts"),
      partTable(c),
    );
    const { nodes, edges } = topicFlow(c);
    if (nodes.length === 0) {
      graphBox.replaceWith(h("p", { class: "muted" }, "This component has no parts."));
      return;
    }
    const view = renderGraph(graphBox, nodes, edges, { onNavigate: ctx.navigate });
    ctx.setGraph(view);
    ctx.onCleanup(() => view.destroy());
  });
}
