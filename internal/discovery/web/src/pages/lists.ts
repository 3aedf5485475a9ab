// The list pages: every topic (filterable), every pod with its health.

import { h, relativeTime } from "../dom";
import type { PageContext } from "../page";
import { podsQuery, topicsQuery, type PodsData, type TopicsData } from "../queries";
import { href } from "../router";
import { empty } from "../states";
import { health, loadPage, pageHeader } from "./common";

function serviceList(list: { id: string; name: string }[]): Node {
  if (list.length === 0) return h("span", { class: "muted" }, "—");
  return h("span", {}, list.flatMap((s, i) => [i ? ", " : "", h("a", { href: href("service", s.id) }, s.name)]));
}

export function renderTopics(ctx: PageContext): Promise<void> {
  return loadPage<TopicsData, TopicsData["topics"]>(ctx, topicsQuery, {}, (d) => d.topics, "topics", (topics) => {
    ctx.root.append(pageHeader("mesh", "Topics", [h("a", { href: href("map") }, "map")]));
    if (topics.length === 0) {
      ctx.root.append(empty("No topics yet", "Topics appear once discovery scraped a service that uses them."));
      return;
    }
    const filter = h("input", { type: "search", placeholder: "Filter topics", "data-testid": "topic-filter", "aria-label": "Filter topics" });
    const rows = topics.map((t) =>
      h(
        "tr",
        { "data-topic": t.id, "data-text": `${t.name} ${t.message}`.toLowerCase() },
        h("td", {}, h("a", { href: href("topic", t.id) }, t.name)),
        h("td", {}, h("code", {}, t.message)),
        h("td", {}, serviceList(t.producerServices)),
        h("td", {}, serviceList(t.consumerServices)),
      ),
    );
    const count = h("span", { class: "muted" }, `${topics.length} topics`);
    filter.addEventListener("input", () => {
      const needle = filter.value.trim().toLowerCase();
      let shown = 0;
      for (const r of rows) {
        const hit = !needle || (r.dataset.text ?? "").includes(needle);
        r.hidden = !hit;
        if (hit) shown++;
      }
      count.textContent = needle ? `${shown} of ${topics.length} topics` : `${topics.length} topics`;
    });
    ctx.root.append(
      h("div", { class: "toolbar" }, filter, count),
      h("table", { "data-testid": "topic-table" }, h("thead", {}, h("tr", {}, h("th", {}, "Topic"), h("th", {}, "Message"), h("th", {}, "Written by"), h("th", {}, "Read by"))), h("tbody", {}, rows)),
    );
  });
}

export function renderPods(ctx: PageContext): Promise<void> {
  return loadPage<PodsData, PodsData["pods"]>(ctx, podsQuery, {}, (d) => d.pods, "pods", (pods) => {
    ctx.root.append(pageHeader("mesh", "Pods", [h("a", { href: href("map") }, "map")]));
    if (pods.length === 0) {
      ctx.root.append(empty("No scrape targets", "Start kafmesh discover with --target host:port, --targets-file or --kubernetes."));
      return;
    }
    const selected = ctx.route.params.get("pod") ?? "";
    const bad = pods.filter((p) => !p.healthy).length;
    ctx.root.append(
      h("p", { "data-testid": "pod-summary" }, `${pods.length} pods, ${pods.length - bad} healthy, ${bad} unhealthy`),
      h(
        "table",
        { class: "pods", "data-testid": "pod-table" },
        h(
          "thead",
          {},
          h("tr", {}, h("th", {}, "Pod"), h("th", {}, "Namespace"), h("th", {}, "Address"), h("th", {}, "Source"), h("th", {}, "Service"), h("th", {}, "Health"), h("th", {}, "Last scrape"), h("th", {}, "Last seen"), h("th", {}, "Last error")),
        ),
        h(
          "tbody",
          {},
          pods.map((p) =>
            h(
              "tr",
              { "data-pod": p.id, class: p.id === selected ? "selected" : null },
              h("td", {}, p.name),
              h("td", {}, p.namespace || "—"),
              h("td", {}, h("code", {}, p.address)),
              h("td", {}, p.source),
              h("td", {}, p.service ? h("a", { href: href("service", p.service.id) }, p.service.name) : h("span", { class: "muted" }, "never answered")),
              h("td", {}, health(p.healthy)),
              h("td", { title: p.lastScrape ?? "" }, relativeTime(p.lastScrape)),
              h("td", { title: p.lastSeen ?? "" }, relativeTime(p.lastSeen)),
              h("td", { class: "error-text", "data-testid": "pod-error" }, p.lastError ?? ""),
            ),
          ),
        ),
      ),
    );
  });
}
