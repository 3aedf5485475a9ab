// A processor: its topics, pods and live flow, and the live watch: pick a
// key and see every operation the processor performs for it (input, joins,
// lookups, state reads and writes, outputs) as it happens, decoded as JSON.

import { formatCount, h } from "../dom";
import { pollFlow } from "../flow";
import type { PageContext } from "../page";
import { processorQuery, watchSubscription, type ProcessorData, type TopicRef, type WatchedOperation } from "../queries";
import { href } from "../router";
import { subscribe, type Subscription } from "../subscription";
import { WatchList } from "../watchlist";
import { facts, loadPage, pageHeader, podTable } from "./common";
import { deadLetterSection } from "./deadletters";
import { groupSection } from "./groups";

type Processor = NonNullable<ProcessorData["processorById"]>;

/** How many operations the watch list keeps. */
export const watchLimit = 200;

function topicLinks(list: { topic: TopicRef }[]): Node {
  if (list.length === 0) return document.createTextNode("none");
  return h("span", {}, list.flatMap((x, i) => [i ? ", " : "", h("a", { href: href("topic", x.topic.id) }, x.topic.name)]));
}

function watchPanel(ctx: PageContext, p: Processor): HTMLElement {
  const keyInput = h("input", { type: "text", placeholder: "Kafka key, e.g. a device id", "data-testid": "watch-key", "aria-label": "Key to watch" });
  keyInput.value = ctx.route.params.get("key") ?? "";
  const start = h("button", { type: "submit", "data-testid": "watch-start" }, "Watch");
  const pause = h("button", { type: "button", "data-testid": "watch-pause", disabled: true }, "Pause");
  const clearButton = h("button", { type: "button", "data-testid": "watch-clear" }, "Clear");
  const status = h("p", { class: "watch-status muted", "data-testid": "watch-status", "data-state": "idle" }, "Not watching.");
  const errors = h("ul", { class: "watch-errors", "data-testid": "watch-errors" });
  const counter = h("span", { class: "muted", "data-testid": "watch-count" }, "");
  const list = new WatchList(watchLimit, (shown, waiting) => {
    counter.textContent = `${shown} shown${waiting ? `, ${waiting} waiting (paused)` : ""} · keeps the last ${watchLimit}`;
  });
  let sub: Subscription | null = null;
  let paused = false;

  const setStatus = (state: string, text: string) => {
    status.dataset.state = state;
    status.textContent = text;
  };
  const stop = () => {
    sub?.stop();
    sub = null;
    start.textContent = "Watch";
    pause.disabled = true;
  };
  const begin = (key: string) => {
    stop();
    errors.replaceChildren();
    history.replaceState(null, "", href("processor", p.id, { key }));
    setStatus("connecting", `Connecting to watch key “${key}”…`);
    start.textContent = "Stop";
    pause.disabled = false;
    sub = subscribe<{ watchProcessor: WatchedOperation }>(
      watchSubscription,
      { processorId: p.id, key },
      {
        onStart: () => setStatus("watching", `Watching key “${key}” on ${p.pods.length} pod${p.pods.length === 1 ? "" : "s"}: operations appear as records with this key arrive.`),
        onData: (d) => list.add(d.watchProcessor),
        onError: (m) => errors.prepend(h("li", {}, m)),
        onEnd: (reason) => {
          if (reason) setStatus("ended", `Watch ended: ${reason}`);
          else setStatus("idle", "Not watching.");
          sub = null;
          start.textContent = "Watch";
          pause.disabled = true;
        },
      },
    );
  };
  const form = h("form", { class: "watch-form" }, keyInput, start, pause, clearButton, counter);
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (sub) {
      stop();
      return;
    }
    const key = keyInput.value;
    if (key === "") {
      setStatus("idle", "Give a key to watch.");
      return;
    }
    begin(key);
  });
  pause.addEventListener("click", () => {
    paused = !paused;
    list.setPaused(paused);
    pause.textContent = paused ? "Resume" : "Pause";
    pause.dataset.paused = String(paused);
  });
  clearButton.addEventListener("click", () => list.clear());
  ctx.onCleanup(stop);
  if (keyInput.value !== "") queueMicrotask(() => begin(keyInput.value));
  return h("section", { class: "watch", "data-testid": "watch" }, h("h2", {}, "Live watch"), form, status, errors, list.element);
}

export function renderProcessor(ctx: PageContext): Promise<void> {
  return loadPage<ProcessorData, Processor>(ctx, processorQuery, { id: ctx.route.id }, (d) => d.processorById, "processor", (p) => {
    const flow = h("span", { "data-testid": "processor-flow" }, "—");
    ctx.root.append(
      pageHeader(
        "processor",
        p.name,
        [h("a", { href: href("map") }, "map"), h("a", { href: href("service", p.component.service.id) }, p.component.service.name), h("a", { href: href("component", p.component.id) }, p.component.name)],
        p.description,
      ),
      facts([
        ["Consumer group", h("code", {}, p.groupName)],
        ["Inputs", topicLinks(p.inputs)],
        ["Joins", topicLinks(p.joins)],
        ["Lookups", topicLinks(p.lookups)],
        ["Outputs", topicLinks(p.outputs)],
        ["State", p.persistence ? h("a", { href: href("topic", p.persistence.id) }, p.persistence.name) : "none"],
        ["Live flow", flow],
      ]),
      watchPanel(ctx, p),
      p.groupName ? groupSection(ctx, p.groupName) : "",
      deadLetterSection(ctx, p.id),
      h("h2", {}, "Pods"),
      podTable(p.pods),
    );
    pollFlow(ctx.signal, (s) => {
      if (s.kind !== "sample") {
        flow.textContent = s.reason;
        return;
      }
      const f = s.sample.processors.get(p.id);
      flow.textContent = f
        ? `lag ${formatCount(f.lag)} · ${formatCount(f.recordsPerSecond)} records/s · group ${f.state}${f.behind ? " · falling behind" : ""}${f.error ? " · " + f.error : ""}`
        : "not measured yet";
      flow.classList.toggle("behind", !!f?.behind);
    });
  });
}
