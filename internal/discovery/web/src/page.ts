// What every page gets: the element to draw into, an abort signal that
// fires when the user leaves the page, a way to register cleanup, and the
// hooks the browser tests read (window.kafmeshUI).

import type { GraphView } from "./graphview";
import type { Route } from "./router";

export interface PageContext {
  root: HTMLElement;
  route: Route;
  /** Aborted when the page is left: fetches and timers stop with it. */
  signal: AbortSignal;
  /** onCleanup runs fn when the page is left. */
  onCleanup(fn: () => void): void;
  /** navigate goes to a hash route. */
  navigate(href: string): void;
  /** setGraph tells the test hooks which graph the page shows. */
  setGraph(g: GraphView | null): void;
  /** ready marks the page as drawn and answering input. */
  ready(): void;
}

export type PageRenderer = (ctx: PageContext) => void | Promise<void>;

/** The state the browser tests and the benchmark read. */
export interface UIHooks {
  /** The page shown (map, service, …) and whether it finished drawing. */
  page: string;
  ready: boolean;
  /** Counts the routes drawn by this page load, and names the load, so a test can tell a new route from the last one. */
  renders: number;
  load: string;
  /** performance.now() when the page became ready. */
  readyAt: number;
  /** Milliseconds spent in the last page's steps (query, layout, draw). */
  timings: Record<string, number>;
  /** Errors the UI caught and showed; tests expect none on healthy pages. */
  errors: string[];
  /** The graph on the page: nodes and edges with their classes. */
  graph(): { nodes: { id: string; label: string; classes: string[]; parent?: string }[]; edges: { source: string; target: string; kind: string }[] } | null;
  /** nodePoint is where a graph node is drawn, in page coordinates. */
  nodePoint(id: string): { x: number; y: number } | null;
  /** labelPx is the on-screen size of the graph's node labels (null without a graph). */
  labelPx(): number | null;
}

declare global {
  interface Window {
    kafmeshUI: UIHooks;
  }
}
