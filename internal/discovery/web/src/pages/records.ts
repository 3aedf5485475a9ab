// The topic browser: a topic's records read from the brokers (discovery's
// --brokers) — the latest N, from the start, at an offset or a time, of one
// partition or all, only one key — with each value decoded as JSON with the
// schema the services reported (every field shown, defaults too), or as
// bytes (text, hex, base64) for raw topics and values that do not decode,
// with the reason. Tail mode streams new records from where the last read
// ended (and, when the connection drops, goes on from where it got). The
// form lives in the route (#/records/<topic id>?from=…), so a read can be
// linked to.

import { clear, h } from "../dom";
import { ApiError, query } from "../graphql";
import type { PageContext } from "../page";
import { href } from "../router";
import { empty, failure, loading } from "../states";
import { subscribe, type Subscription } from "../subscription";
import { loadPage, pageHeader } from "./common";
import { size } from "./topicsettings";

export const recordsQuery = `query TopicRecords($topic: String!, $from: RecordStart, $partitions: [Int!], $offset: Int64, $offsets: [PartitionOffsetInput!], $timestamp: Time, $limit: Int, $key: String) {
  topicRecords(topic: $topic, from: $from, partitions: $partitions, offset: $offset, offsets: $offsets, timestamp: $timestamp, limit: $limit, key: $key) {
    topic message type undecoded scanned stopped
    partitions { partition startOffset endOffset nextOffset }
    records {
      partition offset timestamp json framing schemaId decodeError decodeWarning
      key { size text printable hex base64 }
      value { size text printable hex base64 }
      headers { key value base64 }
    }
  }
}`;

const tailSubscription = `subscription TailTopicRecords($topic: String!, $partitions: [Int!], $key: String, $offsets: [PartitionOffsetInput!]) {
  tailTopicRecords(topic: $topic, partitions: $partitions, key: $key, offsets: $offsets) {
    skipped error
    nextOffsets { partition offset }
    records {
      partition offset timestamp json framing schemaId decodeError decodeWarning
      key { size text printable hex base64 }
      value { size text printable hex base64 }
      headers { key value base64 }
    }
  }
}`;

interface TailBatch {
  records: BrowsedRecord[];
  skipped: number;
  /** Where each partition's tail goes on: where a new subscription starts. */
  nextOffsets: { partition: number; offset: number }[];
  error: string | null;
}

const topicInfoQuery = `query RecordsTopic($id: ID!) {
  topicById(id: $id) { id name message type settings { partitions } }
  recordLimits { maxRecords maxBytes timeoutMs }
}`;

const topicListQuery = `query RecordsTopics { topics { id name message type } recordLimits { maxRecords } }`;

interface Bytes {
  size: number;
  text: string | null;
  printable: string;
  hex: string;
  base64: string;
}

export interface BrowsedRecord {
  partition: number;
  offset: number;
  timestamp: string;
  json: string | null;
  framing: string | null;
  schemaId: number | null;
  decodeError: string | null;
  decodeWarning: string | null;
  key: Bytes | null;
  value: Bytes | null;
  headers: { key: string; value: string | null; base64: string }[];
}

export interface RecordPage {
  topic: string;
  message: string | null;
  type: string;
  undecoded: string | null;
  scanned: number;
  stopped: string | null;
  partitions: { partition: number; startOffset: number; endOffset: number; nextOffset: number }[];
  records: BrowsedRecord[];
}

interface Limits {
  maxRecords: number;
  maxBytes: number;
  timeoutMs: number;
}

interface TopicInfo {
  topicById: { id: string; name: string; message: string; type: string; settings: { partitions: number } | null } | null;
  recordLimits: Limits | null;
}

type View = "json" | "text" | "hex" | "base64";

/** The most records tail mode keeps on the page; older ones fall off. */
const tailKeep = 500;

/** The pause before the tail subscribes again after its connection
 * dropped: the first, doubled after every failed try up to the last. */
const tailRetryFirstMs = 1000;
const tailRetryMaxMs = 30_000;

/** topicName is the topic a Topic id names ("Topic:orders" → "orders"). */
function topicName(id: string): string {
  return id.startsWith("Topic:") ? id.slice("Topic:".length) : id;
}

/** bytesView shows bytes in the chosen form; text falls back to the
 * printable form (non-printing bytes as '.') when they are not UTF-8. */
function bytesView(b: Bytes | null, view: View, testid: string): HTMLElement {
  if (!b) return h("span", { class: "muted", "data-testid": testid, "data-null": "true" }, "(none)");
  let s: string;
  switch (view) {
    case "hex":
      s = b.hex.replace(/(..)(?!$)/g, "$1 ");
      break;
    case "base64":
      s = b.base64;
      break;
    default:
      s = b.text !== null && !/[\u0000-\u0008\u000e-\u001f\u007f]/.test(b.text) ? b.text : b.printable;
  }
  return h("pre", { class: "bytes", "data-testid": testid, "data-view": view }, s === "" ? "(empty)" : s);
}

function valueView(r: BrowsedRecord, view: View): HTMLElement {
  if (!r.value) return h("p", { class: "muted", "data-testid": "record-value", "data-tombstone": "true" }, "tombstone (no value)");
  const parts: HTMLElement[] = [];
  if (view === "json" && r.json !== null) {
    parts.push(h("pre", { class: "json", "data-testid": "record-json" }, r.json));
  } else {
    parts.push(bytesView(r.value, view === "json" ? "text" : view, "record-value"));
    if (view === "json" && r.value.size > 0) parts.push(bytesView(r.value, "hex", "record-hex"));
  }
  if (r.decodeError) parts.push(h("p", { class: "error-text", "data-testid": "record-decode-error" }, `Not decoded: ${r.decodeError}`));
  if (r.decodeWarning) parts.push(h("p", { class: "muted", "data-testid": "record-decode-warning" }, r.decodeWarning));
  return h("div", {}, parts);
}

/** recordItem draws one record: where it is, its key, headers and value. */
export function recordItem(r: BrowsedRecord, view: View): HTMLElement {
  const framing = r.framing ? `${r.framing}${r.schemaId !== null ? ` #${r.schemaId}` : ""}` : "";
  return h(
    "li",
    { class: "record", "data-testid": "record", "data-partition": r.partition, "data-offset": r.offset },
    h(
      "div",
      { class: "record-head" },
      h("span", { class: "badge set" }, `p${r.partition}`),
      h("code", { "data-meta": "offset" }, `offset ${r.offset}`),
      h("time", { datetime: r.timestamp, "data-meta": "timestamp" }, new Date(r.timestamp).toISOString().replace("T", " ").replace("Z", " UTC")),
      h("span", { class: "muted" }, "key"),
      r.key ? h("code", { "data-testid": "record-key" }, r.key.text ?? r.key.printable) : h("span", { class: "muted", "data-testid": "record-key" }, "(none)"),
      framing ? h("span", { class: "muted", "data-meta": "framing" }, framing) : null,
      r.value ? h("span", { class: "muted" }, `${r.value.size} B`) : null,
    ),
    r.headers.length
      ? h(
          "ul",
          { class: "record-headers", "data-testid": "record-headers" },
          r.headers.map((hd) => h("li", {}, h("code", {}, hd.key), " = ", hd.value !== null ? h("code", {}, hd.value) : h("code", { title: "not UTF-8: base64" }, `base64:${hd.base64}`))),
        )
      : null,
    valueView(r, view),
  );
}

/** variablesOf turns the route's parameters into the query's variables. */
export function variablesOf(topic: string, p: URLSearchParams): Record<string, unknown> {
  const vars: Record<string, unknown> = { topic, from: (p.get("from") ?? "LATEST").toUpperCase(), limit: Number(p.get("n") ?? "20") };
  const part = p.get("p") ?? "";
  if (part !== "") vars.partitions = [Number(part)];
  if (vars.from === "OFFSET") vars.offset = Number(p.get("o") ?? "0");
  if (vars.from === "TIMESTAMP") {
    const t = p.get("ts") ?? "";
    const ms = Date.parse(/[zZ]|[+-]\d\d:\d\d$/.test(t) ? t : t + "Z");
    vars.timestamp = Number.isNaN(ms) ? t : new Date(ms).toISOString();
  }
  const key = p.get("key");
  if (key !== null && key !== "") vars.key = key;
  return vars;
}

function renderTopicPicker(ctx: PageContext): Promise<void> {
  type D = { topics: { id: string; name: string; message: string; type: string }[]; recordLimits: { maxRecords: number } | null };
  return loadPage<D, D>(ctx, topicListQuery, {}, (d) => d, "topics", (d) => {
    ctx.root.append(pageHeader("browse", "Records", [h("a", { href: href("map") }, "map")], "Read a topic's records, decoded with the schema its services report."));
    if (!d.recordLimits) {
      ctx.root.append(empty("No broker connection", "Run kafmesh discover with --brokers to read records."));
      return;
    }
    if (d.topics.length === 0) {
      ctx.root.append(empty("No topics yet", "Topics appear once discovery scraped a service that uses them."));
      return;
    }
    ctx.root.append(
      h(
        "table",
        { "data-testid": "records-topics" },
        h("thead", {}, h("tr", {}, h("th", {}, "Topic"), h("th", {}, "Message"), h("th", {}, "Encoding"))),
        h(
          "tbody",
          {},
          d.topics.map((t) => h("tr", {}, h("td", {}, h("a", { href: href("records", t.id) }, t.name)), h("td", {}, h("code", {}, t.message)), h("td", {}, t.type))),
        ),
      ),
    );
  });
}

/** renderRecords is the topic browser page. */
export async function renderRecords(ctx: PageContext): Promise<void> {
  if (!ctx.route.id) return renderTopicPicker(ctx);
  const { root, signal, route } = ctx;
  const topic = topicName(route.id);
  clear(root);
  root.append(loading());
  let info: TopicInfo;
  try {
    info = await query<TopicInfo>(topicInfoQuery, { id: route.id }, signal);
  } catch (err) {
    if (signal.aborted) return;
    clear(root);
    root.append(failure(err, () => void renderRecords(ctx)));
    ctx.ready();
    return;
  }
  if (signal.aborted) return;
  clear(root);
  const t = info.topicById;
  root.append(
    pageHeader("records", topic, [h("a", { href: href("map") }, "map"), h("a", { href: href("records") }, "records"), t ? h("a", { href: href("topic", t.id) }, "topic") : h("span", {}, "topic")]),
  );
  if (!info.recordLimits) {
    root.append(empty("No broker connection", "kafmesh discover reads records with --brokers."));
    ctx.ready();
    return;
  }
  const limits = info.recordLimits;
  const params = route.params;
  const view = (params.get("view") ?? "json") as View;

  // The form: its values come from the route, submitting changes the route.
  const from = h(
    "select",
    { name: "from", "data-testid": "records-from", "aria-label": "Start" },
    ["LATEST", "EARLIEST", "OFFSET", "TIMESTAMP"].map((v) => h("option", { value: v }, { LATEST: "latest", EARLIEST: "from the start", OFFSET: "at offset", TIMESTAMP: "at time" }[v] ?? v)),
  );
  from.value = (params.get("from") ?? "LATEST").toUpperCase();
  const partitions = t?.settings?.partitions ?? 0;
  const partition = h(
    "select",
    { name: "p", "data-testid": "records-partition", "aria-label": "Partition" },
    h("option", { value: "" }, "all partitions"),
    Array.from({ length: partitions }, (_, i) => h("option", { value: String(i) }, `partition ${i}`)),
  );
  if (partitions === 0 && params.get("p")) partition.append(h("option", { value: params.get("p")! }, `partition ${params.get("p")}`));
  partition.value = params.get("p") ?? "";
  const offset = h("input", { name: "o", type: "number", min: 0, placeholder: "offset", "data-testid": "records-offset", "aria-label": "Offset", value: params.get("o") ?? "" });
  const time = h("input", { name: "ts", type: "datetime-local", step: 1, "data-testid": "records-time", "aria-label": "Time (UTC)", value: params.get("ts") ?? "" });
  const key = h("input", { name: "key", type: "search", placeholder: "key (exact)", "data-testid": "records-key", "aria-label": "Key", value: params.get("key") ?? "" });
  const limit = h("input", { name: "n", type: "number", min: 1, max: limits.maxRecords, "data-testid": "records-limit", "aria-label": "Records", value: params.get("n") ?? "20" });
  const viewSelect = h(
    "select",
    { name: "view", "data-testid": "records-view", "aria-label": "Show values as" },
    (["json", "text", "hex", "base64"] as View[]).map((v) => h("option", { value: v }, v === "json" ? "JSON (decoded)" : v)),
  );
  viewSelect.value = view;
  const tail = h("button", { type: "button", "data-testid": "records-tail", "aria-pressed": params.get("tail") === "1" ? "true" : "false" }, params.get("tail") === "1" ? "Stop tail" : "Tail");
  const syncInputs = () => {
    offset.hidden = from.value !== "OFFSET";
    time.hidden = from.value !== "TIMESTAMP";
  };
  syncInputs();
  from.addEventListener("change", syncInputs);
  const form = h(
    "form",
    { class: "records-form", "data-testid": "records-form" },
    from,
    partition,
    offset,
    time,
    key,
    h("label", {}, "max ", limit),
    h("button", { type: "submit", "data-testid": "records-read" }, "Read"),
    tail,
    h("label", {}, "values as ", viewSelect),
  );
  const go = (extra: Record<string, string> = {}) => {
    const q: Record<string, string> = { from: from.value, p: partition.value, key: key.value, n: limit.value, view: viewSelect.value, ...extra };
    if (from.value === "OFFSET") q.o = offset.value;
    if (from.value === "TIMESTAMP") q.ts = time.value;
    ctx.navigate(href("records", route.id, q));
  };
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    go();
  });
  viewSelect.addEventListener("change", () => go(params.get("tail") === "1" ? { tail: "1" } : {}));
  tail.addEventListener("click", () => go(params.get("tail") === "1" ? {} : { tail: "1" }));

  const summary = h("div", { class: "records-summary", "data-testid": "records-summary" });
  const list = h("ol", { class: "records", "data-testid": "records-list" });
  const status = h("p", { class: "muted", "data-testid": "records-status" });
  root.append(
    h("p", { class: "muted" }, `Reads at most ${limits.maxRecords} records and ${size(limits.maxBytes)} per read, within ${limits.timeoutMs / 1000} s. Record values are the mesh's data: protect discover with --token.`),
    form,
    summary,
    status,
    list,
  );

  let page: RecordPage;
  try {
    page = (await query<{ topicRecords: RecordPage }>(recordsQuery, variablesOf(topic, params), signal)).topicRecords;
  } catch (err) {
    if (signal.aborted) return;
    if (err instanceof ApiError && err.kind === "auth") {
      clear(root);
      root.append(failure(err, () => void renderRecords(ctx)));
    } else {
      summary.append(h("p", { class: "error-text", role: "alert", "data-testid": "records-error" }, err instanceof Error ? err.message : String(err)));
    }
    ctx.ready();
    return;
  }
  if (signal.aborted) return;
  summary.append(
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "Values"),
      h(
        "dd",
        { "data-testid": "records-decoding" },
        page.message ? ["decoded as ", h("code", {}, page.message)] : h("span", {}, page.undecoded ?? "shown as bytes"),
      ),
      h("dt", {}, "Partitions"),
      h("dd", {}, page.partitions.map((p) => `p${p.partition}: ${p.startOffset}–${p.endOffset}`).join(", ")),
      h("dt", {}, "Read"),
      h("dd", { "data-testid": "records-count" }, `${page.records.length} records (${page.scanned} scanned)`),
    ),
  );
  if (page.stopped) summary.append(h("p", { class: "error-text", "data-testid": "records-stopped" }, `Stopped early: ${page.stopped}`));
  if (page.records.length === 0) list.append(h("li", { class: "muted", "data-testid": "records-none" }, "No records here."));
  for (const r of page.records) list.append(recordItem(r, view));
  ctx.ready();

  if (params.get("tail") !== "1") return;
  // Tail: a subscription streams what is written after the records read,
  // from each partition's next offset, so nothing falls between the two.
  // Every batch says where each partition goes on (nextOffsets). When the
  // subscription ends with an error while the page is open (discover
  // restarted, a proxy closed an idle socket, all tail slots were taken),
  // it subscribes again from those offsets after a pause that doubles from
  // 1 s to 30 s (back to 1 s once a batch arrived), so no record is lost or
  // shown twice. Only an error the tail itself reports (the brokers refuse
  // the topic for good) or leaving the page (Stop tail) ends it for good.
  const next = new Map(page.partitions.map((p) => [p.partition, p.nextOffset]));
  const vars = variablesOf(topic, params);
  let seen = 0;
  let skipped = 0;
  let lastAt = "";
  let finished = false;
  let delay = tailRetryFirstMs;
  let startedAt = 0;
  let lastError = "";
  let sub: Subscription | null = null;
  let retry: ReturnType<typeof setTimeout> | undefined;
  ctx.onCleanup(() => {
    clearTimeout(retry);
    sub?.stop();
  });
  const showTailing = () => {
    status.dataset.state = "tailing";
    status.textContent =
      seen === 0 && skipped === 0
        ? "Tailing: new records appear below."
        : `Tailing: ${seen} new record${seen === 1 ? "" : "s"}${skipped ? `, ${skipped} more skipped (too many at once)` : ""}, last at ${lastAt}.`;
  };
  const open = () => {
    if (signal.aborted) return;
    lastError = "";
    startedAt = 0;
    sub = subscribe<{ tailTopicRecords: TailBatch }>(
      tailSubscription,
      { topic, partitions: vars.partitions ?? null, key: vars.key ?? null, offsets: [...next].map(([partition, offset]) => ({ partition, offset })) },
      {
        onStart: () => {
          startedAt = Date.now();
          showTailing();
        },
        onData: ({ tailTopicRecords: b }) => {
          if (b.records.length > 0) list.querySelector('[data-testid="records-none"]')?.remove();
          for (const r of b.records) list.append(recordItem(r, view));
          while (list.children.length > tailKeep) list.firstElementChild?.remove();
          for (const n of b.nextOffsets) next.set(n.partition, n.offset);
          seen += b.records.length;
          skipped += b.skipped;
          lastAt = new Date().toLocaleTimeString();
          delay = tailRetryFirstMs;
          if (b.error) {
            finished = true;
            status.dataset.state = "ended";
            status.textContent = `Tail ended: ${b.error}`;
            return;
          }
          showTailing();
        },
        onError: (message) => {
          lastError = message;
          status.dataset.state = "error";
          status.textContent = `Tail: ${message}`;
        },
        onEnd: (reason) => {
          // An empty reason is our own stop (the page was left).
          if (!reason || finished || signal.aborted) return;
          // A connection that lived past the longest pause was healthy:
          // its drop starts the pauses over.
          if (startedAt > 0 && Date.now() - startedAt >= tailRetryMaxMs) delay = tailRetryFirstMs;
          const wait = delay;
          delay = Math.min(delay * 2, tailRetryMaxMs);
          status.dataset.state = "reconnecting";
          status.textContent = `Tail: ${lastError || reason}; reconnecting in ${wait / 1000} s…`;
          retry = setTimeout(() => {
            status.textContent = "Tail: reconnecting…";
            open();
          }, wait);
        },
      },
    );
  };
  status.dataset.state = "starting";
  status.textContent = "Tail: connecting…";
  open();
}
