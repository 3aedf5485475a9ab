// The mesh map: every service and its dependencies (an edge from the
// service that writes a topic to each service that reads it), laid out in
// layers along the data flow. Zoom and pan with the mouse, search by name,
// filter by namespace; live lag and records per second when discovery reads
// them from the brokers, and processors that fall behind marked in red.

import { clear, formatCount, h } from "../dom";
import { pollFlow, type FlowState } from "../flow";
import { query } from "../graphql";
import { renderGraph, type GraphEdge, type GraphNode, type GraphView } from "../graphview";
import type { PageContext } from "../page";
import { flowMapQuery, meshMapQuery, type FlowMapData, type MeshMapData } from "../queries";
import { dlqMapQuery, type DlqMapData } from "../consolequeries";
import { href } from "../router";
import { empty, failure, loading } from "../states";

/** The namespace filter's value for static targets (they have none). */
const staticNamespace = "(static)";

function namespacesOf(s: MeshMapData["services"][number]): string[] {
  return [...new Set(s.pods.map((p) => p.namespace || staticNamespace))];
}

/** mapElements turns the services into graph nodes and dependency edges. */
export function mapElements(services: MeshMapData["services"]): { nodes: GraphNode[]; edges: GraphEdge[] } {
  const ids = new Set(services.map((s) => s.id));
  const nodes: GraphNode[] = services.map((s) => ({
    id: s.id,
    label: s.name,
    kind: "service",
    href: href("service", s.id),
    sizeFor: flowLabel(s.name, 99999, 99999),
    classes: s.pods.some((p) => !p.healthy) ? ["unhealthy"] : [],
  }));
  const edges: GraphEdge[] = [];
  for (const s of services) {
    for (const d of s.dependsOn) {
      // Data flows from the dependency to the dependent.
      if (ids.has(d.id)) edges.push({ source: d.id, target: s.id, kind: "depends" });
    }
  }
  return { nodes, edges };
}

/** MapLevel is how much of the mesh the map draws: "services" is one box
 * per service with an edge per dependency (the zoomed-out level, for big
 * meshes); "flow" adds the topics between them. */
export type MapLevel = "services" | "flow";

/**
 * flowElements is the data-flow level: the services, and every topic a
 * service writes or reads as a node between its writers and readers
 * (writer → topic → reader), so a topic written by one service and read by
 * another is the path between them, and the topics a service exchanges
 * with the world outside the mesh are at its ends. Processor state tables
 * are internal to one processor and left out. On a big mesh (more than
 * boundaryTopicsUpTo services) only the topics between two services are
 * drawn, which keeps the layout to the flows that matter.
 */
/** boundaryTopicsUpTo is the most services whose data-flow map also shows
 * the topics that do not go from one service to another. */
export const boundaryTopicsUpTo = 40;

export function flowElements(services: MeshMapData["services"], topics: FlowMapData["topics"]): { nodes: GraphNode[]; edges: GraphEdge[] } {
  const { nodes } = mapElements(services);
  const ids = new Set(services.map((s) => s.id));
  const edges: GraphEdge[] = [];
  for (const t of topics) {
    if (t.processorPersistences.length > 0) continue;
    const writers = t.producerServices.filter((s) => ids.has(s.id));
    const readers = t.consumerServices.filter((s) => ids.has(s.id));
    if (writers.length === 0 && readers.length === 0) continue;
    const cross = writers.some((w) => readers.some((r) => r.id !== w.id));
    if (!cross && services.length > boundaryTopicsUpTo) continue;
    nodes.push({
      id: t.id,
      label: t.recordsPerSecond !== null ? `${t.name}\n${formatCount(t.recordsPerSecond)}/s` : t.name,
      sizeFor: `${t.name}\n99999/s`,
      kind: "topic",
      href: href("topic", t.id),
      classes: cross ? ["between"] : [],
    });
    for (const w of writers) edges.push({ source: w.id, target: t.id, kind: "output" });
    for (const r of readers) edges.push({ source: t.id, target: r.id, kind: "input" });
  }
  groupByNamespace(services, nodes, edges);
  return { nodes, edges };
}

/** The id of a namespace's group node on the data-flow level. */
export function namespaceNodeId(ns: string): string {
  return `Namespace:${ns}`;
}

/**
 * groupByNamespace draws the services of each namespace inside a box of
 * their namespace (a service with pods in several goes in the first, by
 * name), and a topic inside it when every service writing or reading it is
 * there; with a single namespace there are no boxes.
 */
function groupByNamespace(services: MeshMapData["services"], nodes: GraphNode[], edges: GraphEdge[]): void {
  const home = new Map(services.map((s) => [s.id, namespacesOf(s).sort()[0] ?? staticNamespace]));
  const spaces = [...new Set(home.values())].sort();
  if (spaces.length < 2) return;
  const around = new Map<string, Set<string>>();
  for (const e of edges) {
    for (const [topic, svc] of [
      [e.target, e.source],
      [e.source, e.target],
    ]) {
      if (!home.has(svc) || home.has(topic)) continue;
      const set = around.get(topic) ?? new Set<string>();
      set.add(home.get(svc)!);
      around.set(topic, set);
    }
  }
  for (const n of nodes) {
    if (home.has(n.id)) n.parent = namespaceNodeId(home.get(n.id)!);
    else if (around.get(n.id)?.size === 1) n.parent = namespaceNodeId([...around.get(n.id)!][0]);
  }
  for (const ns of spaces) nodes.push({ id: namespaceNodeId(ns), label: ns, kind: "namespace", classes: [] });
}

function flowLabel(name: string, lag: number, rps: number): string {
  return `${name}\nlag ${formatCount(lag)} · ${formatCount(rps)}/s`;
}

export async function renderMap(ctx: PageContext): Promise<void> {
  const { root, signal } = ctx;
  clear(root);
  root.append(loading("Loading the mesh"));
  let data: MeshMapData;
  const asked = performance.now();
  try {
    data = await query<MeshMapData>(meshMapQuery, {}, signal);
    window.kafmeshUI.timings.query = performance.now() - asked;
  } catch (err) {
    if (signal.aborted) return;
    clear(root);
    root.append(failure(err, () => void renderMap(ctx)));
    ctx.ready();
    return;
  }
  clear(root);

  if (data.services.length === 0) {
    const failing = data.pods.filter((p) => !p.healthy);
    root.append(
      empty(
        "No services discovered yet",
        data.pods.length === 0
          ? "Discovery has no scrape targets. Start it with --target host:port, --targets-file or --kubernetes (pods annotated kafmesh/scrape: \"true\")."
          : `Discovery knows ${data.pods.length} target${data.pods.length === 1 ? "" : "s"}, ${failing.length} failing. `,
        h("a", { href: href("pods") }, "See the pods and their last errors"),
      ),
    );
    ctx.ready();
    return;
  }

  const namespaces = [...new Set(data.services.flatMap(namespacesOf))].sort();
  const ns = ctx.route.params.get("ns") ?? "";
  const visible = ns ? data.services.filter((s) => namespacesOf(s).includes(ns)) : data.services;

  const filter = h("input", { type: "search", placeholder: "Find a service", "data-testid": "map-filter", "aria-label": "Find a service on the map" });
  filter.value = ctx.route.params.get("q") ?? "";
  const nsSelect = h(
    "select",
    { "data-testid": "namespace-filter", "aria-label": "Namespace" },
    h("option", { value: "" }, "All namespaces"),
    namespaces.map((n) => h("option", { value: n, selected: n === ns }, n)),
  );
  const level: MapLevel = ctx.route.params.get("level") === "flow" ? "flow" : "services";
  const levelSelect = h(
    "select",
    { "data-testid": "map-level", "aria-label": "Map level" },
    h("option", { value: "services", selected: level === "services" }, "Services"),
    h("option", { value: "flow", selected: level === "flow" }, "Data flow (services and topics)"),
  );
  const fit = h("button", { type: "button", title: "Fit the whole map" }, "Fit");
  const counts = h("span", { class: "muted", "data-testid": "map-counts" });
  const flowStatus = h("span", { class: "flow-status muted", "data-testid": "flow-status" }, "live flow: waiting…");
  const behindList = h("ul", { class: "behind-list", "data-testid": "behind-list" });
  const graphBox = h("div", { class: "graph", "data-testid": "map-graph" });
  root.append(
    h("div", { class: "toolbar" }, filter, nsSelect, levelSelect, fit, counts, flowStatus),
    h("div", { class: "map-body" }, graphBox, h("aside", { class: "side" }, failingTargets(data.pods), h("h3", {}, "Falling behind"), behindList)),
  );

  const unhealthy = visible.filter((s) => s.pods.some((p) => !p.healthy)).length;
  counts.textContent = `${visible.length} service${visible.length === 1 ? "" : "s"}${unhealthy ? `, ${unhealthy} with unhealthy pods` : ""}`;

  if (visible.length === 0) {
    graphBox.append(empty(`No services in namespace ${ns}`));
    ctx.ready();
    return;
  }
  let elements = mapElements(visible);
  const deadLetters = h("ul", { class: "behind-list", "data-testid": "dlq-list" });
  if (level === "flow") {
    try {
      const asked = performance.now();
      const [flow, dlqs] = await Promise.all([query<FlowMapData>(flowMapQuery, {}, signal), query<DlqMapData>(dlqMapQuery, {}, signal)]);
      window.kafmeshUI.timings.flowQuery = performance.now() - asked;
      elements = flowElements(visible, flow.topics);
      markDeadLetters(elements.nodes, dlqs, deadLetters);
      root.querySelector(".side")?.append(h("h3", {}, "Dead letters"), deadLetters);
    } catch (err) {
      if (signal.aborted) return;
      graphBox.append(failure(err, () => void renderMap(ctx)));
      ctx.ready();
      return;
    }
  }
  const { nodes, edges } = elements;
  // Topic nodes (data-flow level): id → name, for the live lag under each.
  const topicNames = new Map(nodes.filter((n) => n.kind === "topic").map((n) => [n.id, n.id.slice(n.id.indexOf(":") + 1)]));
  const view: GraphView = renderGraph(graphBox, nodes, edges, { onNavigate: ctx.navigate });
  ctx.setGraph(view);
  ctx.onCleanup(() => view.destroy());

  const applyFilter = () => {
    const n = view.highlight(filter.value);
    const params: Record<string, string> = { ns, q: filter.value.trim(), level: level === "flow" ? "flow" : "" };
    history.replaceState(null, "", href("map", "", params));
    filter.classList.toggle("no-match", filter.value.trim() !== "" && n === 0);
  };
  filter.addEventListener("input", applyFilter);
  filter.addEventListener("keydown", (ev) => {
    if (ev.key !== "Enter") return;
    const hit = view.cy.nodes(".match");
    if (hit.length === 1) ctx.navigate(String(hit.data("href")));
  });
  nsSelect.addEventListener("change", () => ctx.navigate(href("map", "", { ns: nsSelect.value, q: filter.value.trim(), level: level === "flow" ? "flow" : "" })));
  levelSelect.addEventListener("change", () => ctx.navigate(href("map", "", { ns, q: filter.value.trim(), level: levelSelect.value === "flow" ? "flow" : "" })));
  fit.addEventListener("click", () => view.fit());
  if (filter.value) applyFilter();
  if (level === "services") offerFlowWhenZoomedIn(view, graphBox, () => ctx.navigate(href("map", "", { ns, q: filter.value.trim(), level: "flow" })));

  const names = new Map(visible.map((s) => [s.id, s.name]));
  const showFlow = (state: FlowState) => {
    if (state.kind !== "sample") {
      flowStatus.textContent = `live flow: ${state.reason}`;
      flowStatus.dataset.state = state.kind;
      return;
    }
    flowStatus.dataset.state = "live";
    flowStatus.textContent = `live flow: updated ${new Date().toLocaleTimeString()}`;
    clear(behindList);
    for (const [id, name] of names) {
      const f = state.sample.services.get(id);
      view.setLabel(id, f ? flowLabel(name, f.lag, f.recordsPerSecond) : name);
      view.setClass(id, "behind", !!f && f.behind.length > 0);
    }
    for (const [id, name] of topicNames) {
      const f = state.sample.topics.get(name);
      if (f) view.setLabel(id, `${name}\nlag ${formatCount(f.lag)} · ${formatCount(f.recordsPerSecond)}/s`);
    }
    for (const [pid, p] of state.sample.processors) {
      if (!p.behind || !names.has(p.service)) continue;
      behindList.append(h("li", {}, h("a", { href: href("processor", pid) }, `${names.get(p.service)} / ${p.name}`), ` lag ${formatCount(p.lag)}`));
    }
    if (!behindList.firstChild) behindList.append(h("li", { class: "muted" }, "none"));
  };
  behindList.append(h("li", { class: "muted" }, "—"));
  pollFlow(signal, showFlow);
  ctx.ready();
}

/** flowZoom is how far past its first zoom (or past 2× on small maps) the service-box level is zoomed in when it offers the data-flow level. */
export const flowZoom = 2;

/**
 * offerFlowWhenZoomedIn makes zooming in the next level of the map: once the
 * service boxes are zoomed in flowZoom times past how they were first drawn
 * (or to 2× on small maps: few services fill the view), a button offers the data-flow level (the
 * topics between the services) and goes there; zooming out hides it.
 */
function offerFlowWhenZoomedIn(view: GraphView, box: HTMLElement, go: () => void): void {
  // Small maps start at up to 1.25× (and stop at 3×): there, 2× is zoomed in.
  const at = Math.min(view.cy.zoom() * flowZoom, 2);
  const button = h("button", { type: "button", class: "zoom-flow", "data-testid": "flow-zoom-hint", hidden: true }, "Zoomed in: show the data flow (topics between services)");
  button.addEventListener("click", go);
  box.style.position = "relative";
  box.append(button);
  view.cy.on("zoom", () => {
    button.hidden = view.cy.zoom() < at;
  });
}

/**
 * markDeadLetters marks (class dlq) the services with a processor whose
 * dead-letter topic holds records, and lists those processors in list.
 * Only services drawn (in nodes) count: with a namespace filter the list
 * names no service the map leaves out, like the "Falling behind" list.
 */
function markDeadLetters(nodes: GraphNode[], data: DlqMapData, list: HTMLElement): void {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  for (const s of data.services) {
    const n = byId.get(s.id);
    if (!n) continue;
    for (const c of s.components) {
      for (const p of c.processors) {
        const records = Number(p.deadLetters?.records ?? 0);
        if (records <= 0) continue;
        if (!n.classes?.includes("dlq")) n.classes = [...(n.classes ?? []), "dlq"];
        const rate = p.deadLetters?.recordsPerSecond;
        list.append(
          h("li", { "data-testid": "dlq-entry" }, h("a", { href: href("processor", p.id) }, `${s.name} / ${p.name}`), ` ${formatCount(records)} dead letter${records === 1 ? "" : "s"}${rate ? ` · ${formatCount(rate)}/s` : ""}`),
        );
      }
    }
  }
  if (!list.firstChild) list.append(h("li", { class: "muted" }, "none"));
}

/** The side panel's list of targets whose last scrape failed, with why. */
function failingTargets(pods: MeshMapData["pods"]): HTMLElement {
  const failing = pods.filter((p) => !p.healthy);
  const box = h("div", { "data-testid": "failing-targets" }, h("h3", {}, `Failing targets (${failing.length})`));
  if (failing.length === 0) {
    box.append(h("p", { class: "muted" }, "none"));
    return box;
  }
  box.append(
    h(
      "ul",
      { class: "failing-list" },
      failing.map((p) =>
        h("li", { "data-testid": "failing-target" }, h("a", { href: href("pods") }, p.namespace ? `${p.namespace}/${p.name}` : p.name), h("span", { class: "error-text" }, p.lastError ?? "never answered")),
      ),
    ),
  );
  return box;
}
