// Hash routes: #/<page>/<id>?k=v. Ids are the stable ids GraphQL gives
// ("Service:devices", "Topic:kafmesh.deviceId.Heartbeat"), URI-encoded, so
// a link keeps working across restarts of discovery and of services. Hash
// routes need nothing from the server, so the UI works behind any path
// prefix a proxy puts it under.

export type Page =
  | "map"
  | "records"
  | "service"
  | "component"
  | "processor"
  | "topic"
  | "topics"
  | "pods"
  | "groups"
  | "group"
  | "notfound";

export interface Route {
  page: Page;
  /** The node id of detail pages; "" otherwise. */
  id: string;
  params: URLSearchParams;
}

const detailPages: Page[] = ["service", "component", "processor", "topic", "group"];
const listPages: Page[] = ["topics", "pods", "groups"];

// The topic browser: #/records picks a topic, #/records/<topic id> reads it.
detailPages.push("records");
listPages.push("records");

/** parseRoute reads a location hash ("#/topic/Topic%3Ax?key=1"). */
export function parseRoute(hash: string): Route {
  const raw = hash.replace(/^#/, "");
  const q = raw.indexOf("?");
  const path = q < 0 ? raw : raw.slice(0, q);
  const params = new URLSearchParams(q < 0 ? "" : raw.slice(q + 1));
  const parts = path.split("/").filter((p) => p !== "");
  if (parts.length === 0) return { page: "map", id: "", params };
  const page = parts[0] as Page;
  if (parts.length === 1 && listPages.includes(page)) return { page, id: "", params };
  if (parts.length === 2 && detailPages.includes(page)) {
    try {
      return { page, id: decodeURIComponent(parts[1]), params };
    } catch {
      return { page: "notfound", id: "", params };
    }
  }
  return { page: "notfound", id: "", params };
}

/** href builds the hash link of a page. */
export function href(page: Page, id = "", params?: Record<string, string>): string {
  let s = page === "map" ? "#/" : `#/${page}`;
  if (id) s += "/" + encodeURIComponent(id);
  const q = params ? new URLSearchParams(Object.entries(params).filter(([, v]) => v !== "")).toString() : "";
  return q ? `${s}?${q}` : s;
}

/** pageOfId tells which page shows a node, from its id's kind prefix. */
export function hrefOfId(id: string): string {
  const kind = id.slice(0, id.indexOf(":"));
  switch (kind) {
    case "Service":
      return href("service", id);
    case "Component":
      return href("component", id);
    case "Processor":
      return href("processor", id);
    case "Topic":
      return href("topic", id);
    case "Pod":
      return href("pods", "", { pod: id });
    default:
      return "";
  }
}
