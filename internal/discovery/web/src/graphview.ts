// A graph on a page: cytoscape.js drawing nodes placed by layeredLayout,
// with the styles of every node kind and edge kind of the mesh. Pages hand
// it plain nodes and edges; it handles zoom, pan, clicks and highlighting.

import cytoscape from "cytoscape";
import { labelBox, layeredLayout } from "./layout";

/** The kinds of node a graph can show; each has its own shape and colour. */
export type NodeKind =
  | "service"
  | "component"
  | "processor"
  | "source"
  | "sink"
  | "view"
  | "viewSource"
  | "viewSink"
  | "topic"
  | "external"
  | "namespace";

/**
 * The kinds of edge: how a part uses a topic (input, join, lookup, output,
 * state; produce and read for the other parts), or a dependency between
 * services or components.
 */
export type EdgeKind = "input" | "join" | "lookup" | "output" | "state" | "produce" | "read" | "depends";

export interface GraphNode {
  id: string;
  label: string;
  kind: NodeKind;
  /** Extra classes (unhealthy, behind, …). */
  classes?: string[];
  /** Where a click goes; none: not clickable. */
  href?: string;
  /** The longest label the node will get (its box is sized for it). */
  sizeFor?: string;
  /** The id of the group node (kind namespace) the node is drawn inside. */
  parent?: string;
}

export interface GraphEdge {
  source: string;
  target: string;
  kind: EdgeKind;
}

export interface GraphView {
  cy: cytoscape.Core;
  /** How long the layout and cytoscape's set-up took (ms). */
  timings: { layout: number; draw: number };
  /**
   * highlight marks nodes whose label contains text and dims the rest; a
   * single match is centred at a readable zoom. Returns the matches.
   */
  highlight(text: string): number;
  /** setLabel changes a node's label (for live numbers) without a new layout. */
  setLabel(id: string, label: string): void;
  /** setClass adds or removes a class of a node. */
  setClass(id: string, cls: string, on: boolean): void;
  fit(): void;
  /** labelPx is the size node labels are drawn at now, in screen pixels. */
  labelPx(): number;
  destroy(): void;
}

const kindColors: Record<NodeKind, string> = {
  service: "#2563eb",
  component: "#0d9488",
  processor: "#ea580c",
  source: "#16a34a",
  sink: "#7c3aed",
  view: "#0891b2",
  viewSource: "#15803d",
  viewSink: "#9333ea",
  topic: "#475569",
  external: "#94a3b8",
  namespace: "#64748b",
};

const kindShapes: Record<NodeKind, cytoscape.Css.NodeShape> = {
  service: "round-rectangle",
  component: "round-rectangle",
  processor: "rectangle",
  source: "tag",
  sink: "rhomboid",
  view: "hexagon",
  viewSource: "round-pentagon",
  viewSink: "cut-rectangle",
  topic: "barrel",
  external: "round-rectangle",
  namespace: "round-rectangle",
};

/** labelFontPx is the node label size at zoom 1. */
const labelFontPx = 12;
/** minLabelPx is the smallest label size (on screen) a graph of up to 100
 * nodes is zoomed out to when it is first drawn. */
export const minLabelPx = 10;

function stylesheet(big: boolean): cytoscape.StylesheetJson {
  const nodeKinds = Object.keys(kindColors) as NodeKind[];
  return [
    {
      selector: "node",
      style: {
        label: "data(label)",
        "text-valign": "center",
        "text-halign": "center",
        "text-wrap": "wrap",
        "font-size": labelFontPx,
        "font-family": "system-ui, sans-serif",
        color: "#0f172a",
        width: "data(w)",
        height: "data(h)",
        "border-width": 2,
        "background-opacity": 0.12,
        // Labels too small to read are not drawn (a zoomed-out big map).
        "min-zoomed-font-size": 5,
      },
    },
    ...nodeKinds.map((k) => ({
      selector: `node.${k}`,
      style: { shape: kindShapes[k], "background-color": kindColors[k], "border-color": kindColors[k] },
    })),
    { selector: "node.external", style: { "border-style": "dashed", color: "#475569" } },
    { selector: "node.unhealthy", style: { "border-color": "#dc2626", "border-width": 3 } },
    { selector: "node.behind", style: { "border-color": "#dc2626", "border-width": 4, "background-color": "#fee2e2", "background-opacity": 1 } },
    { selector: "node.current", style: { "border-width": 4 } },
    // A topic on the data-flow map that carries data from one service to another.
    { selector: "node.topic.between", style: { "border-width": 3, "border-color": "#2563eb" } },
    {
      selector: "node.namespace",
      style: { "text-valign": "top", "text-halign": "center", "border-style": "dashed", "border-width": 1, "background-opacity": 0.04, padding: "18px", color: "#475569", "font-weight": "bold" },
    },
    { selector: "node.dlq", style: { "border-style": "double", "border-width": 6, "border-color": "#d97706" } },
    { selector: "node.match", style: { "border-color": "#facc15", "border-width": 5 } },
    { selector: ".dimmed", style: { opacity: 0.2 } },
    {
      selector: "edge",
      style: {
        width: 1.5,
        // Bezier bundles parallel edges apart; on a big map straight edges
        // cost far less to route and draw.
        "curve-style": big ? "straight" : "bezier",
        "line-color": "#64748b",
        "target-arrow-color": "#64748b",
        "target-arrow-shape": "triangle",
        "arrow-scale": 0.9,
      },
    },
    { selector: "edge.input, edge.read", style: { "line-color": "#2563eb", "target-arrow-color": "#2563eb" } },
    { selector: "edge.join", style: { "line-style": "dashed", "line-color": "#7c3aed", "target-arrow-color": "#7c3aed" } },
    {
      selector: "edge.lookup",
      style: { "line-style": "dotted", width: 2.5, "line-color": "#0891b2", "target-arrow-color": "#0891b2", "target-arrow-shape": "circle" },
    },
    { selector: "edge.output, edge.produce", style: { width: 2.5, "line-color": "#16a34a", "target-arrow-color": "#16a34a" } },
    {
      selector: "edge.state",
      style: {
        "line-style": "dashed",
        "line-dash-pattern": [8, 3],
        width: 2,
        "line-color": "#ea580c",
        "target-arrow-color": "#ea580c",
        "source-arrow-color": "#ea580c",
        "source-arrow-shape": "triangle",
      },
    },
    { selector: "edge.depends", style: { width: 2, "line-color": "#94a3b8", "target-arrow-color": "#94a3b8" } },
  ];
}

export interface GraphViewOptions {
  /** Called when a node with an href is clicked. */
  onNavigate?: (href: string) => void;
}

/** renderGraph lays out and draws nodes and edges into container. */
export function renderGraph(container: HTMLElement, nodes: GraphNode[], edges: GraphEdge[], opts: GraphViewOptions = {}): GraphView {
  const t0 = performance.now();
  const boxes = new Map(nodes.map((n) => [n.id, labelBox(n.sizeFor ?? n.label)]));
  const positions = layeredLayout(
    nodes.map((n) => ({ id: n.id, parent: n.parent, ...boxes.get(n.id)! })),
    edges,
  );
  const t1 = performance.now();
  const big = nodes.length > 100 || edges.length > 200;
  const cy = cytoscape({
    container,
    elements: [
      ...nodes.map((n) => ({
        group: "nodes" as const,
        data: { id: n.id, label: n.label, w: boxes.get(n.id)!.width, h: boxes.get(n.id)!.height, href: n.href, kind: n.kind, parent: n.parent },
        position: positions.get(n.id),
        classes: [n.kind, ...(n.classes ?? [])],
      })),
      ...edges.map((e, i) => ({
        group: "edges" as const,
        data: { id: `e${i}`, source: e.source, target: e.target, kind: e.kind },
        classes: [e.kind],
      })),
    ],
    style: stylesheet(big),
    layout: { name: "preset", fit: true, padding: 24 },
    minZoom: 0.05,
    maxZoom: 3,
    wheelSensitivity: 0.3,
    boxSelectionEnabled: false,
    autoungrabify: true,
    hideEdgesOnViewport: big,
    textureOnViewport: big,
  });
  // Small graphs would be blown up to fill the box: keep them at a
  // readable size, centred.
  if (cy.zoom() > 1.25) {
    cy.zoom(1.25);
    cy.center();
  }
  // A graph wider than its box (a component with many parts in a 1024 px
  // window) would be shrunk until its labels are ~6 px: never below
  // minLabelPx. It then overflows the box; it is shown from where the data
  // flow starts (the left), centred vertically when it fits, and panned
  // from there. Big maps (many nodes) keep fitting and hide unreadable
  // labels instead.
  if (!big && cy.zoom() < minLabelPx / labelFontPx) {
    const z = minLabelPx / labelFontPx;
    cy.zoom(z);
    const bb = cy.elements().boundingBox();
    const height = container.clientHeight;
    const y = bb.h * z + 48 <= height ? (height - bb.h * z) / 2 - bb.y1 * z : 24 - bb.y1 * z;
    cy.pan({ x: 24 - bb.x1 * z, y });
  }
  cy.on("tap", "node", (ev) => {
    const target = ev.target as cytoscape.NodeSingular;
    const href = target.data("href") as string | undefined;
    if (href) opts.onNavigate?.(href);
  });
  cy.on("mouseover", "node[href]", () => (container.style.cursor = "pointer"));
  cy.on("mouseout", "node", () => (container.style.cursor = ""));
  const timings = { layout: t1 - t0, draw: performance.now() - t1 };
  return {
    cy,
    timings,
    highlight(text: string): number {
      const needle = text.trim().toLowerCase();
      let matches = 0;
      cy.batch(() => {
        cy.elements().removeClass("dimmed match");
        if (!needle) return;
        const hit = cy.nodes().filter((n) => String(n.data("label")).toLowerCase().includes(needle));
        matches = hit.length;
        hit.addClass("match");
        cy.elements().not(hit).not(hit.connectedEdges()).addClass("dimmed");
      });
      if (matches === 1) {
        // One match: bring it into view at a readable size.
        const hit = cy.nodes(".match");
        cy.zoom(Math.max(cy.zoom(), 1));
        cy.center(hit);
      }
      return matches;
    },
    setLabel(id: string, label: string) {
      cy.getElementById(id).data("label", label);
    },
    setClass(id: string, cls: string, on: boolean) {
      const n = cy.getElementById(id);
      if (on) n.addClass(cls);
      else n.removeClass(cls);
    },
    fit() {
      cy.fit(undefined, 24);
    },
    labelPx() {
      return labelFontPx * cy.zoom();
    },
    destroy() {
      cy.destroy();
    },
  };
}
