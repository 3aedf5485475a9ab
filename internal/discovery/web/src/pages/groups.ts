// Consumer groups, as discover measures them from the brokers (--brokers):
// the Groups list, a group's page, and the group section of processor
// pages: state, members, per-partition committed and end offsets, lag and
// owning member, a sparkline of the last hour's lag, and the offset reset
// of a stopped group (behind discover's token and a confirmation).

import { confirmAction } from "../dialog";
import { formatCount, h, relativeTime } from "../dom";
import { ApiError, query } from "../graphql";
import {
  groupQuery,
  groupsQuery,
  resetMutation,
  type GroupData,
  type GroupDetail,
  type GroupsData,
  type GroupSummary,
  type Int64,
  type ResetData,
} from "../consolequeries";
import type { PageContext } from "../page";
import { href } from "../router";
import { sparkline } from "../sparkline";
import { empty } from "../states";
import { loadPage, pageHeader } from "./common";

/** How often group figures are fetched again while shown. */
export const groupRefreshMs = 5000;

const noBrokers = "Discover runs without --brokers, so it measures no consumer groups. Start it with --brokers to see them.";

function stateBadge(state: string): HTMLElement {
  const stopped = state === "Empty" || state === "Dead";
  const cls = state === "Stable" ? "badge ok" : stopped ? "badge" : "badge bad";
  return h("span", { class: cls, "data-testid": "group-state", "data-state": state }, state || "unknown");
}

function num(v: Int64 | null | undefined): string {
  return v === null || v === undefined ? "—" : String(v);
}

/** isStopped tells a group whose offsets may be reset: no members. */
function isStopped(g: GroupSummary): boolean {
  return g.members === 0 && (g.state === "Empty" || g.state === "Dead");
}

export function renderGroups(ctx: PageContext): Promise<void> {
  return loadPage<GroupsData, GroupsData>(ctx, groupsQuery, {}, (d) => d, "groups", (d) => {
    ctx.root.append(pageHeader("mesh", "Consumer groups", [h("a", { href: href("map") }, "map")]));
    if (d.kafka === null) {
      ctx.root.append(empty("No consumer groups", noBrokers));
      return;
    }
    if (d.groups.length === 0) {
      ctx.root.append(empty("No consumer groups yet", "Groups appear once discover measured the processors' groups and the groups reading mesh topics."));
      return;
    }
    const rows = d.groups.map((g) =>
      h(
        "tr",
        { "data-group": g.name },
        h("td", {}, h("a", { href: href("group", g.name) }, g.name)),
        h("td", {}, g.processor ? h("a", { href: href("processor", g.processor.id) }, g.processor.name) : h("span", { class: "muted" }, "outside the mesh's processors")),
        h("td", {}, stateBadge(g.state)),
        h("td", {}, String(g.members)),
        h("td", { "data-testid": "group-lag" }, formatCount(Number(g.lag))),
        h("td", {}, sparkline(g.lagHistory)),
        h("td", { title: g.updatedAt }, relativeTime(g.updatedAt), g.error ? h("div", { class: "error-text" }, g.error) : null),
      ),
    );
    ctx.root.append(
      h("p", { class: "muted", "data-testid": "group-count" }, `${d.groups.length} groups`),
      h(
        "table",
        { "data-testid": "group-table" },
        h("thead", {}, h("tr", {}, h("th", {}, "Group"), h("th", {}, "Processor"), h("th", {}, "State"), h("th", {}, "Members"), h("th", {}, "Lag"), h("th", {}, "Last hour"), h("th", {}, "Measured"))),
        h("tbody", {}, rows),
      ),
    );
  });
}

export function renderGroup(ctx: PageContext): Promise<void> {
  const name = ctx.route.id;
  return loadPage<GroupData, GroupData>(ctx, groupQuery, { name }, (d) => (d.group || d.kafka === null ? d : null), "group", (d) => {
    ctx.root.append(pageHeader("group", name, [h("a", { href: href("map") }, "map"), h("a", { href: href("groups") }, "groups")]));
    if (d.kafka === null) {
      ctx.root.append(empty("No consumer groups", noBrokers));
      return;
    }
    ctx.root.append(groupSection(ctx, name, d.group));
  });
}

/**
 * groupSection shows a group and keeps it current (every groupRefreshMs
 * until the page is left); first is a measure already fetched, if any.
 */
export function groupSection(ctx: PageContext, name: string, first: GroupDetail | null = null): HTMLElement {
  const live = h("div", { "data-testid": "group-live" });
  const reset = resetForm(ctx, name, () => void refresh());
  const section = h("section", { class: "panel", "data-testid": "group-section", "data-group": name }, h("h2", {}, "Consumer group ", h("code", {}, name)), live, reset.element);
  // One line says why the last refresh failed; the next success removes it.
  const refreshError = h("p", { class: "error-text", role: "alert", "data-testid": "group-refresh-error" });
  let timer = 0;
  const draw = (g: GroupDetail | null, noBrokers = false) => {
    if (noBrokers) {
      live.replaceChildren(h("p", { class: "muted", "data-testid": "group-unmeasured" }, "Not measured: discover runs without --brokers."));
      reset.update(null);
      return;
    }
    if (!g) {
      live.replaceChildren(h("p", { class: "muted", "data-testid": "group-unmeasured" }, "Not measured yet (the group has no committed offsets, or discover has not measured it)."));
      reset.update(null);
      return;
    }
    live.replaceChildren(groupBody(g));
    reset.update(g);
  };
  const refresh = async () => {
    window.clearTimeout(timer);
    try {
      const d = await query<GroupData>(groupQuery, { name }, ctx.signal);
      refreshError.remove();
      draw(d.group, d.kafka === null);
    } catch (err) {
      if (ctx.signal.aborted) return;
      refreshError.textContent = `Could not refresh: ${(err as Error).message}`;
      // prepend moves the line when it is already there: never two.
      live.prepend(refreshError);
    }
    if (!ctx.signal.aborted) timer = window.setTimeout(() => void refresh(), groupRefreshMs);
  };
  ctx.onCleanup(() => window.clearTimeout(timer));
  if (first) {
    draw(first);
    timer = window.setTimeout(() => void refresh(), groupRefreshMs);
  } else {
    live.append(h("p", { class: "muted" }, "Loading the group…"));
    void refresh();
  }
  return section;
}

function groupBody(g: GroupDetail): HTMLElement {
  const owner = (p: GroupDetail["partitions"][number]) =>
    p.memberId ? h("span", { title: p.memberId }, p.clientId || p.memberId, p.host ? h("span", { class: "muted" }, ` on ${p.host}`) : null) : h("span", { class: "muted" }, "no member");
  return h(
    "div",
    {},
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "State"),
      h("dd", {}, stateBadge(g.state), g.state === "PreparingRebalance" || g.state === "CompletingRebalance" ? h("span", { class: "muted" }, " rebalancing") : null),
      h("dt", {}, "Members"),
      h("dd", { "data-testid": "group-members" }, String(g.members)),
      h("dt", {}, "Lag"),
      h("dd", {}, h("span", { "data-testid": "group-total-lag" }, formatCount(Number(g.lag))), " records ", sparkline(g.lagHistory, 160, 28), h("span", { class: "muted" }, " last hour")),
      h("dt", {}, "Measured"),
      h("dd", { title: g.updatedAt }, relativeTime(g.updatedAt)),
      g.error ? h("dt", {}, "Error") : null,
      g.error ? h("dd", { class: "error-text" }, g.error) : null,
    ),
    g.partitions.length === 0
      ? h("p", { class: "muted" }, "No committed offsets.")
      : h(
          "table",
          { "data-testid": "group-partitions" },
          h("thead", {}, h("tr", {}, h("th", {}, "Topic"), h("th", {}, "Partition"), h("th", {}, "Committed"), h("th", {}, "End"), h("th", {}, "Lag"), h("th", {}, "Owner"))),
          h(
            "tbody",
            {},
            g.partitions.map((p) =>
              h(
                "tr",
                { "data-topic": p.topicName, "data-partition": p.partition },
                h("td", {}, p.topic ? h("a", { href: href("topic", p.topic.id) }, p.topicName) : p.topicName),
                h("td", {}, String(p.partition)),
                h("td", { "data-testid": "committed" }, num(p.committedOffset)),
                h("td", { "data-testid": "end" }, num(p.endOffset)),
                h("td", { "data-testid": "lag" }, num(p.lag)),
                h("td", { "data-testid": "owner" }, owner(p)),
              ),
            ),
          ),
        ),
  );
}

const modes: [string, string][] = [
  ["EARLIEST", "the earliest offset (re-read everything kept)"],
  ["LATEST", "the latest offset (skip everything not read)"],
  ["TIMESTAMP", "the first record at or after a time"],
  ["OFFSET", "an exact offset"],
];

/** resetForm is the offset reset of a stopped group. */
function resetForm(ctx: PageContext, group: string, refreshed: () => void): { element: HTMLElement; update(g: GroupDetail | null): void } {
  const topic = h("select", { "data-testid": "reset-topic", "aria-label": "Topic" });
  const mode = h("select", { "data-testid": "reset-mode", "aria-label": "Reset to" }, modes.map(([v, label]) => h("option", { value: v }, label)));
  const at = h("input", { type: "datetime-local", step: "1", "data-testid": "reset-timestamp", "aria-label": "Time (UTC)", hidden: true });
  const offset = h("input", { type: "number", min: "0", "data-testid": "reset-offset", "aria-label": "Offset", placeholder: "offset", hidden: true });
  const open = h("button", { type: "button", class: "danger", "data-testid": "reset-open", disabled: true }, "Reset offsets…");
  const note = h("p", { class: "muted", "data-testid": "reset-note" }, "");
  const result = h("div", { "data-testid": "reset-result" });
  mode.addEventListener("change", () => {
    at.hidden = mode.value !== "TIMESTAMP";
    offset.hidden = mode.value !== "OFFSET";
  });
  let current: GroupDetail | null = null;
  open.addEventListener("click", async () => {
    if (!current) return;
    const vars: Record<string, unknown> = { group, topic: topic.value, to: mode.value };
    let target = modes.find(([v]) => v === mode.value)?.[1] ?? mode.value;
    if (mode.value === "TIMESTAMP") {
      if (!at.value) {
        result.replaceChildren(h("p", { class: "error-text", "data-testid": "reset-error" }, "Give the time to reset to."));
        return;
      }
      vars.timestamp = new Date(at.value + "Z").toISOString();
      target = `the first record at or after ${vars.timestamp}`;
    }
    if (mode.value === "OFFSET") {
      if (offset.value === "") {
        result.replaceChildren(h("p", { class: "error-text", "data-testid": "reset-error" }, "Give the offset to reset to."));
        return;
      }
      vars.offset = Number(offset.value);
      target = `offset ${offset.value}`;
    }
    const parts = current.partitions.filter((p) => p.topicName === topic.value);
    const ok = await confirmAction(
      `Reset the offsets of ${group}?`,
      [
        h("p", {}, "Group ", h("code", {}, group), " will read ", h("code", {}, topic.value), ` from ${target}, on all its partitions.`),
        h("p", {}, `Now committed: ${parts.map((p) => `${p.partition}: ${num(p.committedOffset)}`).join(", ") || "nothing"}.`),
        h("p", { class: "muted" }, "The group must stay stopped until this is done; discover refuses a group with members. The reset is logged in discover's audit log."),
      ],
      "Reset offsets",
    );
    if (!ok) return;
    open.disabled = true;
    result.replaceChildren(h("p", { class: "muted" }, "Resetting…"));
    try {
      const d = await query<ResetData>(resetMutation, vars, ctx.signal);
      const r = d.resetGroupOffsets;
      result.replaceChildren(
        h("p", { class: "ok-text", "data-testid": "reset-done" }, `Moved ${r.partitions.length} partition(s) of ${r.topic}:`),
        h("ul", {}, r.partitions.map((p) => h("li", { "data-testid": "reset-move" }, `partition ${p.partition}: ${num(p.from)} → ${num(p.to)}`))),
      );
      refreshed();
    } catch (err) {
      if (ctx.signal.aborted) return;
      const message = err instanceof ApiError && err.kind === "auth" ? "discover asks for a token: sign in again" : (err as Error).message;
      result.replaceChildren(h("p", { class: "error-text", "data-testid": "reset-error" }, `Not reset: ${message}`));
    } finally {
      open.disabled = !current || !isStopped(current);
    }
  });
  const element = h(
    "details",
    { class: "reset", "data-testid": "reset" },
    h("summary", {}, "Reset offsets"),
    h("div", { class: "reset-form" }, topic, mode, at, offset, open),
    note,
    result,
  );
  return {
    element,
    update(g) {
      current = g;
      const topics = g ? [...new Set(g.partitions.map((p) => p.topicName))].sort() : [];
      const had = topic.value;
      if ([...topic.options].map((o) => o.value).join("\n") !== topics.join("\n")) {
        topic.replaceChildren(...topics.map((t) => h("option", { value: t, selected: t === had }, t)));
      }
      const stopped = !!g && isStopped(g) && topics.length > 0;
      open.disabled = !stopped;
      note.textContent = !g
        ? "Offsets can be reset once the group is measured."
        : stopped
          ? "The group is stopped: its offsets can be moved. This needs discover's --token."
          : topics.length === 0
            ? "The group has no committed offsets to move."
            : `Stop the service first: the group is ${g.state} with ${g.members} member(s). Offsets are reset only for stopped groups.`;
    },
  };
}
