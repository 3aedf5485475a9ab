// Layered layout with dagre: nodes in ranks along the direction data flows
// (left to right), edges crossing as little as dagre manages. Returns the
// centre of every node; graphview places them with cytoscape's preset
// layout, so positions are computed once, off cytoscape's render loop.

import dagre from "@dagrejs/dagre";

export interface LayoutNode {
  id: string;
  width: number;
  height: number;
}

export interface LayoutEdge {
  source: string;
  target: string;
}

export interface Point {
  x: number;
  y: number;
}

export interface LayoutOptions {
  /** Gap between nodes of one rank, and between ranks (pixels). */
  nodeSep?: number;
  rankSep?: number;
}

/** layeredLayout places nodes in ranks, left to right. */
export function layeredLayout(nodes: LayoutNode[], edges: LayoutEdge[], opts: LayoutOptions = {}): Map<string, Point> {
  const g = new dagre.graphlib.Graph({ multigraph: true });
  // Network simplex gives the tidiest ranks but is the slow part on big
  // meshes; longest-path ranks as well for the layered data flows here.
  const ranker = nodes.length > 100 ? "longest-path" : "network-simplex";
  g.setGraph({ rankdir: "LR", ranker, nodesep: opts.nodeSep ?? 24, ranksep: opts.rankSep ?? 80, edgesep: 8, marginx: 20, marginy: 20 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of nodes) g.setNode(n.id, { width: n.width, height: n.height });
  const known = new Set(nodes.map((n) => n.id));
  edges.forEach((e, i) => {
    if (known.has(e.source) && known.has(e.target) && e.source !== e.target) g.setEdge(e.source, e.target, {}, String(i));
  });
  dagre.layout(g);
  const out = new Map<string, Point>();
  for (const n of nodes) {
    const p = g.node(n.id);
    out.set(n.id, { x: p?.x ?? 0, y: p?.y ?? 0 });
  }
  return out;
}

/** labelBox estimates the box a label needs (cytoscape draws on a canvas). */
export function labelBox(label: string, minWidth = 80): { width: number; height: number } {
  const lines = label.split("\n");
  const longest = Math.max(...lines.map((l) => l.length));
  return { width: Math.max(minWidth, Math.min(320, longest * 7 + 24)), height: 18 * lines.length + 16 };
}
