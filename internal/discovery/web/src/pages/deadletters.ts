// The dead-letter browser of a processor page: the records its dead-letter
// policy wrote to "<group>-dlq", each with why it failed, where it came
// from (original topic, partition, offset), its key, its value decoded with
// the original topic's schema and its headers; and replay of the selected
// (or all) dead letters to their original topic, once each, behind
// discover's token and a confirmation.

import { confirmAction } from "../dialog";
import { formatCount, h, relativeTime } from "../dom";
import { ApiError, query } from "../graphql";
import { deadLettersQuery, replayMutation, type DeadLetter, type DeadLettersData, type ReplayData } from "../consolequeries";
import type { PageContext } from "../page";
import { href } from "../router";

/** How many dead letters one page of the browser shows. */
export const deadLetterPage = 50;

function letterItem(d: DeadLetter, selected: Set<string>, onSelect: () => void): HTMLElement {
  const box = h("input", { type: "checkbox", "data-testid": "dl-select", "aria-label": `Select dead letter ${d.position}`, disabled: d.replayed || !d.originalTopic });
  box.checked = selected.has(d.position);
  box.addEventListener("change", () => {
    if (box.checked) selected.add(d.position);
    else selected.delete(d.position);
    onSelect();
  });
  const origin = d.originalTopic
    ? h("span", {}, h("a", { href: href("topic", "Topic:" + d.originalTopic) }, d.originalTopic), ` partition ${d.originalPartition} offset ${d.originalOffset}`)
    : h("span", { class: "error-text" }, "no kafmesh-topic/partition/offset headers: not a kafmesh dead letter");
  return h(
    "li",
    { class: "dead-letter", "data-testid": "dead-letter", "data-position": d.position, "data-replayed": String(d.replayed) },
    h(
      "div",
      { class: "dl-head" },
      box,
      h("code", {}, d.position),
      h("span", { class: "muted", title: d.timestamp }, ` ${relativeTime(d.timestamp)}`),
      d.replayed ? h("span", { class: "badge set", "data-testid": "dl-replayed" }, "replayed") : null,
      d.replayedFrom ? h("span", { class: "badge bad", "data-testid": "dl-failed-again", title: `replayed from ${d.replayedFrom}` }, `failed again after a replay of ${d.replayedFrom}`) : null,
    ),
    h(
      "dl",
      { class: "record-meta" },
      h("dt", {}, "error"),
      h("dd", { class: "error-text", "data-testid": "dl-error" }, d.error || "(no kafmesh-error header)"),
      h("dt", {}, "from"),
      h("dd", { "data-testid": "dl-origin" }, origin),
      d.group ? h("dt", {}, "group") : null,
      d.group ? h("dd", {}, h("code", {}, d.group)) : null,
      h("dt", {}, "key"),
      h("dd", {}, h("code", { "data-testid": "dl-key" }, d.key ?? "null")),
      d.headers.length ? h("dt", {}, "headers") : null,
      d.headers.length ? h("dd", {}, h("ul", { class: "headers" }, d.headers.map((x) => h("li", {}, h("code", {}, `${x.key}: ${x.value}`))))) : null,
      h("dt", {}, "value"),
      h(
        "dd",
        {},
        d.value !== null
          ? h("pre", { class: "json", "data-testid": "dl-value" }, d.value)
          : h("div", {}, h("span", { class: "muted", "data-testid": "dl-value-error" }, d.valueError ?? "no value"), d.valueBytes ? h("pre", { class: "json" }, `${d.valueBytes} bytes: ${d.valueHex}`) : null),
      ),
    ),
  );
}

/** deadLetterSection is the DLQ browser of processor processorId. */
export function deadLetterSection(ctx: PageContext, processorId: string): HTMLElement {
  const summary = h("p", { "data-testid": "dl-summary" }, "Loading the dead letters…");
  const list = h("ul", { class: "dead-letters", "data-testid": "dead-letters" });
  const partition = h("input", { type: "number", min: "0", placeholder: "all", "data-testid": "dl-partition", "aria-label": "Partition" });
  const from = h("input", { type: "number", min: "0", placeholder: "start", "data-testid": "dl-from", "aria-label": "From offset" });
  const show = h("button", { type: "submit", "data-testid": "dl-show" }, "Show");
  const replaySelected = h("button", { type: "button", class: "danger", "data-testid": "dl-replay-selected", disabled: true }, "Replay selected…");
  const replayAll = h("button", { type: "button", class: "danger", "data-testid": "dl-replay-all", disabled: true }, "Replay all…");
  const result = h("div", { "data-testid": "dl-result" });
  const selected = new Set<string>();
  let letters: DeadLetter[] = [];
  let dlqTopic = "";
  let total = 0;

  const updateButtons = () => {
    replaySelected.disabled = selected.size === 0;
    replaySelected.textContent = selected.size ? `Replay ${selected.size} selected…` : "Replay selected…";
    replayAll.disabled = total === 0;
  };
  const load = async () => {
    const vars: Record<string, unknown> = { id: processorId, first: deadLetterPage };
    if (partition.value !== "") vars.partition = Number(partition.value);
    if (from.value !== "") vars.offset = Number(from.value);
    try {
      const d = await query<DeadLettersData>(deadLettersQuery, vars, ctx.signal);
      const dl = d.processorById?.deadLetters ?? null;
      // Keep the selection across reloads, for the dead letters still shown and not replayed.
      const selectable = new Set((dl?.letters ?? []).filter((x) => !x.replayed && x.originalTopic).map((x) => x.position));
      for (const p of [...selected]) if (!selectable.has(p)) selected.delete(p);
      if (d.kafka === null) {
        summary.textContent = "Not read: discover runs without --brokers.";
        letters = [];
      } else if (!dl) {
        summary.textContent = `No dead-letter topic (${d.processorById?.groupName ?? "?"}-dlq does not exist, or is not measured yet): nothing failed under the dead-letter policy.`;
        letters = [];
        total = 0;
      } else {
        dlqTopic = dl.topic;
        total = Number(dl.records);
        letters = dl.letters;
        summary.replaceChildren(
          h("code", {}, dl.topic),
          ": ",
          h("span", { "data-testid": "dl-count" }, formatCount(total)),
          " dead letter(s)",
          dl.recordsPerSecond !== null ? ` · ${formatCount(dl.recordsPerSecond)}/s` : "",
          letters.length < total ? h("span", { class: "muted" }, ` · showing ${letters.length}`) : "",
        );
      }
      list.replaceChildren(...letters.map((x) => letterItem(x, selected, updateButtons)));
      if (letters.length === 0 && total > 0) list.append(h("li", { class: "muted" }, "None at these positions."));
    } catch (err) {
      if (ctx.signal.aborted) return;
      summary.replaceChildren(h("span", { class: "error-text", "data-testid": "dl-load-error" }, `Could not read the dead letters: ${(err as Error).message}`));
    }
    updateButtons();
  };
  const replay = async (all: boolean) => {
    const positions = all ? [] : [...selected].sort();
    const chosen = all ? letters.filter((x) => !x.replayed) : letters.filter((x) => selected.has(x.position));
    const targets = [...new Set(chosen.map((x) => x.originalTopic).filter((x): x is string => !!x))];
    const ok = await confirmAction(
      all ? `Replay every dead letter of ${dlqTopic}?` : `Replay ${positions.length} dead letter(s)?`,
      [
        h("p", {}, all ? `Every dead letter in ${dlqTopic} not replayed yet (${formatCount(total)} in the topic)` : `Dead letters ${positions.join(", ")} of ${dlqTopic}`, " will be sent back to ", targets.length ? targets.join(", ") : "their original topics", ", each to its original partition with its original key, value and headers, once."),
        h("p", { class: "muted" }, "Each replayed record carries the header kafmesh-replayed-from; one that fails again comes back here marked as such. The replay is logged in discover's audit log."),
      ],
      "Replay",
    );
    if (!ok) return;
    replaySelected.disabled = replayAll.disabled = true;
    result.replaceChildren(h("p", { class: "muted" }, "Replaying…"));
    try {
      const d = await query<ReplayData>(replayMutation, all ? { id: processorId, all: true } : { id: processorId, positions }, ctx.signal);
      const r = d.replayDeadLetters;
      result.replaceChildren(
        h("p", { class: "ok-text", "data-testid": "dl-replay-done" }, r.sent ? `Replayed ${r.sent} dead letter(s): ${r.targets.join(", ")}.` : "Nothing to replay: every dead letter was replayed already."),
      );
    } catch (err) {
      if (ctx.signal.aborted) return;
      const message = err instanceof ApiError && err.kind === "auth" ? "discover asks for a token: sign in again" : (err as Error).message;
      result.replaceChildren(h("p", { class: "error-text", "data-testid": "dl-replay-error" }, `Not replayed: ${message}`));
    }
    await load();
  };
  replaySelected.addEventListener("click", () => void replay(false));
  replayAll.addEventListener("click", () => void replay(true));
  const form = h("form", { class: "toolbar" }, h("label", {}, "Partition ", partition), h("label", {}, "From offset ", from), show, replaySelected, replayAll);
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    void load();
  });
  void load();
  return h("section", { class: "panel", "data-testid": "dlq" }, h("h2", {}, "Dead letters"), summary, form, result, list);
}
