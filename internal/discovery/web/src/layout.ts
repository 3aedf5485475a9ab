// Layered layout with dagre: nodes in ranks along the direction data flows
// (left to right), edges crossing as little as dagre manages. Returns the
// centre of every node; graphview places them with cytoscape's preset
// layout, so positions are computed once, off cytoscape's render loop.

import dagre from "@dagrejs/dagre";

export interface LayoutNode {
  id: string;
  width: number;
  height: number;
  /** The group (a node of its own, e.g. a namespace) the node is drawn in; its members are kept together. */
  parent?: string;
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

/**
 * layeredLayout places nodes in ranks, left to right. Nodes with a parent
 * (a group node, e.g. a namespace) are kept together inside it: on graphs
 * of up to 100 nodes dagre lays the groups out as clusters; on bigger ones,
 * or where its compound layout fails (it does on some), each group is laid
 * out on its own and the groups are placed in a grid, the nodes of no group
 * first.
 */
export function layeredLayout(nodes: LayoutNode[], edges: LayoutEdge[], opts: LayoutOptions = {}): Map<string, Point> {
  const known = new Set(nodes.map((n) => n.id));
  const groups = new Set(nodes.map((n) => n.parent).filter((p): p is string => !!p && known.has(p)));
  // Edges to nodes not given are left out once, here.
  const drawn = edges.filter((e) => known.has(e.source) && known.has(e.target));
  if (groups.size === 0) return flatLayout(nodes, drawn, opts, groups);
  // dagre's compound layout is slow on big graphs, and fails on some.
  if (nodes.length > 100) return blockLayout(nodes, drawn, opts, groups);
  try {
    return flatLayout(nodes, drawn, opts, groups);
  } catch {
    return blockLayout(nodes, drawn, opts, groups);
  }
}

/**
 * flatLayout lays nodes out with one dagre run. edges must join nodes
 * given. groups are the group nodes among them (parents present in nodes):
 * empty lays the nodes out flat, parents ignored; otherwise the layout is
 * compound, each node with a parent in groups drawn inside it. Edges to or
 * from a group node, and edges of a node to itself, are left out. dagre's
 * compound layout throws on some graphs; the caller falls back.
 */
function flatLayout(nodes: LayoutNode[], edges: LayoutEdge[], opts: LayoutOptions, groups: ReadonlySet<string>): Map<string, Point> {
  const g = new dagre.graphlib.Graph({ multigraph: true, compound: groups.size > 0 });
  // Network simplex gives the tidiest ranks but is the slow part on big
  // meshes; longest-path ranks as well for the layered data flows here.
  const ranker = nodes.length > 100 ? "longest-path" : "network-simplex";
  g.setGraph({ rankdir: "LR", ranker, nodesep: opts.nodeSep ?? 24, ranksep: opts.rankSep ?? 80, edgesep: 8, marginx: 20, marginy: 20 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of nodes) g.setNode(n.id, { width: n.width, height: n.height });
  for (const n of nodes) if (n.parent && groups.has(n.parent)) g.setParent(n.id, n.parent);
  edges.forEach((e, i) => {
    if (e.source !== e.target && !groups.has(e.source) && !groups.has(e.target)) g.setEdge(e.source, e.target, {}, String(i));
  });
  dagre.layout(g);
  const out = new Map<string, Point>();
  for (const n of nodes) {
    const p = g.node(n.id);
    out.set(n.id, { x: p?.x ?? 0, y: p?.y ?? 0 });
  }
  return out;
}

const noGroups: ReadonlySet<string> = new Set();

/** blockLayout lays each group out on its own and places the groups in a grid. */
function blockLayout(nodes: LayoutNode[], edges: LayoutEdge[], opts: LayoutOptions, groups: Set<string>): Map<string, Point> {
  const members = new Map<string, LayoutNode[]>([["", []]]);
  for (const g of groups) members.set(g, []);
  for (const n of nodes) {
    if (groups.has(n.id)) continue;
    members.get(n.parent && groups.has(n.parent) ? n.parent : "")!.push(n);
  }
  const blocks = [...members.entries()].filter(([, list]) => list.length > 0);
  const perRow = Math.max(1, Math.ceil(Math.sqrt(blocks.length)));
  const gap = 60;
  const out = new Map<string, Point>();
  let x = 0;
  let y = 0;
  let rowHeight = 0;
  blocks.forEach(([, list], i) => {
    const ids = new Set(list.map((n) => n.id));
    const placed = flatLayout(list, edges.filter((e) => ids.has(e.source) && ids.has(e.target)), opts, noGroups);
    let x1 = Infinity, y1 = Infinity, x2 = -Infinity, y2 = -Infinity;
    for (const n of list) {
      const p = placed.get(n.id)!;
      x1 = Math.min(x1, p.x - n.width / 2);
      x2 = Math.max(x2, p.x + n.width / 2);
      y1 = Math.min(y1, p.y - n.height / 2);
      y2 = Math.max(y2, p.y + n.height / 2);
    }
    if (i > 0 && i % perRow === 0) {
      x = 0;
      y += rowHeight + gap;
      rowHeight = 0;
    }
    for (const n of list) {
      const p = placed.get(n.id)!;
      out.set(n.id, { x: x + p.x - x1, y: y + p.y - y1 });
    }
    x += x2 - x1 + gap;
    rowHeight = Math.max(rowHeight, y2 - y1);
  });
  for (const g of groups) if (!out.has(g)) out.set(g, { x: 0, y: 0 });
  return out;
}

/** labelBox estimates the box a label needs (cytoscape draws on a canvas). */
export function labelBox(label: string, minWidth = 80): { width: number; height: number } {
  const lines = label.split("\n");
  const longest = Math.max(...lines.map((l) => l.length));
  return { width: Math.max(minWidth, Math.min(320, longest * 7 + 24)), height: 18 * lines.length + 16 };
}
