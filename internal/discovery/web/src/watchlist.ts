// The live watch's list: newest operation first, at most `limit` kept (the
// oldest fall off), pausable (operations that arrive while paused wait, up
// to the same limit, and appear on resume), and clearable.

import { h } from "./dom";
import type { WatchedAction, WatchedInput, WatchedOperation } from "./queries";

/** prettyJSON indents a JSON value; anything that is not JSON is shown as is. */
export function prettyJSON(value: string): string {
  if (value === "") return "(empty)";
  try {
    return JSON.stringify(JSON.parse(value), null, 2);
  } catch {
    return value;
  }
}

const actionNames: Record<WatchedAction["__typename"], string> = {
  Join: "join",
  Lookup: "lookup",
  GetState: "state read",
  SetState: "state write",
  Output: "output",
};

function step(kind: string, cls: string, topic: string, key: string | undefined, value: string): HTMLElement {
  return h(
    "li",
    { class: `step step-${cls}`, "data-step": cls },
    h("span", { class: "step-kind" }, kind),
    " ",
    h("code", {}, topic),
    key !== undefined ? h("span", { class: "muted" }, ` key ${key}`) : null,
    h("pre", { class: "json" }, prettyJSON(value)),
  );
}

/** recordMeta shows where the watched record was read from: partition,
 * offset, Kafka timestamp and headers (nothing from 2021 pods, which do not
 * send them). Header values that are not UTF-8 are shown as base64. */
function recordMeta(input: WatchedInput): HTMLElement | null {
  const headers = input.headers ?? [];
  if (input.partition === null && headers.length === 0) return null;
  const trace = traceID(headers);
  return h(
    "dl",
    { class: "record-meta", "data-testid": "watch-record" },
    input.partition !== null ? [h("dt", {}, "partition"), h("dd", { "data-meta": "partition" }, String(input.partition))] : null,
    input.offset !== null ? [h("dt", {}, "offset"), h("dd", { "data-meta": "offset" }, String(input.offset))] : null,
    input.timestamp !== null
      ? [h("dt", {}, "timestamp"), h("dd", { "data-meta": "timestamp" }, h("time", { datetime: new Date(input.timestamp).toISOString() }, new Date(input.timestamp).toISOString()))]
      : null,
    trace
      ? [
          h("dt", {}, "trace"),
          h("dd", { "data-meta": "trace" }, h("code", { title: "the W3C trace id of the record's traceparent header: look it up in the tracing backend the service exports to (OTEL_*, kafmesh dev --otlp-endpoint)" }, trace)),
        ]
      : null,
    headers.length
      ? [
          h("dt", {}, "headers"),
          h(
            "dd",
            { "data-meta": "headers" },
            h(
              "ul",
              { class: "headers" },
              headers.map((x) =>
                h("li", {}, h("code", {}, x.key), " = ", x.value !== null ? h("code", {}, x.value) : h("code", { title: "not UTF-8: base64" }, `base64:${x.base64}`)),
              ),
            ),
          ),
        ]
      : null,
  );
}

/** traceID is the trace id of a W3C traceparent header
 * (version-traceid-spanid-flags), or null when there is none or it is
 * malformed (an all-zero id is invalid). */
export function traceID(headers: { key: string; value: string | null }[]): string | null {
  const tp = headers.find((x) => x.key.toLowerCase() === "traceparent")?.value;
  const m = tp ? /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/.exec(tp.trim()) : null;
  if (!m || /^0+$/.test(m[1])) return null;
  return m[1];
}

function inputStep(input: WatchedInput): HTMLElement {
  const li = step("input", "input", input.topic, undefined, input.value);
  const meta = recordMeta(input);
  if (meta) li.insertBefore(meta, li.querySelector("pre"));
  return li;
}

/** operationItem draws one operation: its input, then every action in order. */
export function operationItem(op: WatchedOperation): HTMLElement {
  const took = Math.max(0, op.endTime - op.startTime);
  return h(
    "li",
    { class: "op", "data-testid": "watch-op" },
    h("div", { class: "op-head" }, h("time", {}, new Date(op.startTime).toISOString().slice(11, 23)), ` · ${took} ms`, op.pod ? ` · pod ${op.pod.name}` : ""),
    h(
      "ol",
      { class: "steps" },
      inputStep(op.input),
      op.actions.map((a) => step(actionNames[a.__typename] ?? a.__typename, a.__typename.toLowerCase(), a.topic, a.key, a.value)),
    ),
  );
}

export class WatchList {
  readonly element: HTMLOListElement;
  private paused = false;
  private waiting: WatchedOperation[] = [];
  private shown = 0;

  constructor(
    readonly limit: number,
    private readonly onChange: (shown: number, waiting: number) => void,
  ) {
    this.element = h("ol", { class: "watch-list", "data-testid": "watch-list", reversed: true });
  }

  add(op: WatchedOperation): void {
    if (this.paused) {
      this.waiting.push(op);
      if (this.waiting.length > this.limit) this.waiting.shift();
    } else {
      this.show([op]);
    }
    this.onChange(this.shown, this.waiting.length);
  }

  setPaused(paused: boolean): void {
    this.paused = paused;
    if (!paused && this.waiting.length) {
      this.show(this.waiting);
      this.waiting = [];
    }
    this.onChange(this.shown, this.waiting.length);
  }

  clear(): void {
    this.element.replaceChildren();
    this.waiting = [];
    this.shown = 0;
    this.onChange(0, 0);
  }

  private show(ops: WatchedOperation[]): void {
    for (const op of ops) this.element.prepend(operationItem(op));
    while (this.element.childElementCount > this.limit) this.element.lastElementChild?.remove();
    this.shown = this.element.childElementCount;
  }
}
