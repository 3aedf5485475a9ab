// A topic: who writes it and who reads it, across every service, with the
// way each part uses it, its message type, the message's schema and the
// topic's settings in Kafka.

import { formatCount, h } from "../dom";
import { renderGraph, type EdgeKind, type GraphEdge, type GraphNode, type NodeKind } from "../graphview";
import type { PageContext } from "../page";
import { topicQuery, type MessageField, type PartRef, type SchemaConflict, type TopicData } from "../queries";
import { href } from "../router";
import { facts, loadPage, pageHeader } from "./common";
import { settingsSection } from "./topicsettings";

type Topic = NonNullable<TopicData["topicById"]>;
type TopicPage = Topic & { kafka: TopicData["kafka"] };

const partKinds: Record<PartRef["__typename"], NodeKind> = {
  Processor: "processor",
  Source: "source",
  Sink: "sink",
  View: "view",
  ViewSource: "viewSource",
  ViewSink: "viewSink",
};

/** kindWords names each part kind in prose. */
const kindWords: Record<PartRef["__typename"], string> = {
  Processor: "processor",
  Source: "source",
  Sink: "sink",
  View: "view",
  ViewSource: "view source",
  ViewSink: "view sink",
};

/** partName is a part's name; sources and views have none (their topic is
 * what names them, and here that is the page's topic), so they are named by
 * their kind and component: "source of heartbeats". */
function partName(p: PartRef): string {
  return p.name ?? `${kindWords[p.__typename]} of ${p.component.name}`;
}

/** partTitle is "Processor enricher", or for a nameless part just
 * "Source of heartbeats" (never "Source source"). */
function partTitle(p: PartRef): string {
  const kind = kindWords[p.__typename];
  return p.name ? `${kind[0].toUpperCase()}${kind.slice(1)} ${p.name}` : `${kind[0].toUpperCase()}${partName(p).slice(1)}`;
}

function partLabel(p: PartRef): string {
  return `${p.component.service.name} / ${p.component.name}\n${p.name ?? kindWords[p.__typename]}`;
}

function partHref(p: PartRef): string {
  return p.__typename === "Processor" ? href("processor", p.id) : href("component", p.component.id);
}

/** usage says how a part uses the topic, for the edge style and the tables. */
export function usage(t: Topic, p: PartRef, producing: boolean): EdgeKind {
  const has = (list: { processor: { id: string } }[]) => list.some((x) => x.processor.id === p.id);
  if (p.__typename !== "Processor") return producing ? "produce" : "read";
  if (producing) return t.processorPersistences.some((x) => x.id === p.id) ? "state" : "output";
  if (has(t.processorJoins)) return "join";
  if (has(t.processorLookups)) return "lookup";
  return "input";
}

/** topicGraph draws producers → topic → consumers. */
export function topicGraph(t: Topic): { nodes: GraphNode[]; edges: GraphEdge[] } {
  const nodes = new Map<string, GraphNode>([[t.id, { id: t.id, label: t.name, kind: "topic", classes: ["current"] }]]);
  const edges: GraphEdge[] = [];
  const add = (p: PartRef) => {
    if (!nodes.has(p.id)) nodes.set(p.id, { id: p.id, label: partLabel(p), kind: partKinds[p.__typename], href: partHref(p) });
  };
  for (const p of t.producers) {
    add(p);
    edges.push({ source: p.id, target: t.id, kind: usage(t, p, true) });
  }
  for (const p of t.consumers) {
    add(p);
    edges.push({ source: t.id, target: p.id, kind: usage(t, p, false) });
  }
  return { nodes: [...nodes.values()], edges };
}

function partTable(t: Topic, parts: PartRef[], producing: boolean, testid: string): HTMLElement {
  if (parts.length === 0) return h("p", { class: "muted", "data-testid": testid }, producing ? "No part writes this topic." : "No part reads this topic.");
  return h(
    "table",
    { "data-testid": testid },
    h("thead", {}, h("tr", {}, h("th", {}, "Service"), h("th", {}, "Component"), h("th", {}, "Part"), h("th", {}, "How"))),
    h(
      "tbody",
      {},
      parts.map((p) =>
        h(
          "tr",
          { "data-part": p.id },
          h("td", {}, h("a", { href: href("service", p.component.service.id) }, p.component.service.name)),
          h("td", {}, h("a", { href: href("component", p.component.id) }, p.component.name)),
          h("td", {}, h("a", { href: partHref(p) }, partTitle(p))),
          h("td", {}, usage(t, p, producing)),
        ),
      ),
    ),
  );
}

function schemaTable(fields: MessageField[]): HTMLElement {
  return h(
    "table",
    { "data-testid": "schema-table" },
    h("thead", {}, h("tr", {}, h("th", {}, "#"), h("th", {}, "Field"), h("th", {}, "JSON name"), h("th", {}, "Type"), h("th", {}, "Label"))),
    h(
      "tbody",
      {},
      fields.map((f) =>
        h(
          "tr",
          {},
          h("td", {}, f.number),
          h("td", {}, f.name, f.oneof ? h("span", { class: "muted" }, ` (oneof ${f.oneof})`) : null),
          h("td", {}, f.jsonName),
          h("td", {}, h("code", {}, f.keyType ? `map<${f.keyType}, ${f.type}>` : f.type)),
          h("td", {}, f.label),
        ),
      ),
    ),
  );
}

/** conflictTable lists the breaking differences between writers' and readers' schemas. */
function conflictTable(cs: SchemaConflict[]): HTMLElement {
  return h(
    "table",
    { "data-testid": "schema-conflicts" },
    h("thead", {}, h("tr", {}, h("th", {}, "Writer"), h("th", {}, "Reader"), h("th", {}, "Rule"), h("th", {}, "Difference"))),
    h(
      "tbody",
      {},
      cs.map((c) =>
        h(
          "tr",
          {},
          h("td", {}, h("a", { href: href("service", c.writer.id) }, c.writer.name)),
          h("td", {}, h("a", { href: href("service", c.reader.id) }, c.reader.name)),
          h("td", {}, h("code", {}, `${c.category} ${c.rule}`)),
          h("td", {}, c.message),
        ),
      ),
    ),
  );
}

/** written is the topic's measured write rate, or why there is none. */
function written(t: TopicPage): string {
  if (t.recordsPerSecond !== null) return `${formatCount(t.recordsPerSecond)} records/s`;
  // kafka is null exactly when discovery runs without --brokers.
  if (!t.kafka) return "not measured (kafmesh discover measures it with --brokers)";
  return "not measured yet (measured for topics a processor of the mesh consumes, from its second measure)";
}

/** groupsSection lists the consumer groups with offsets on the topic
 * (processors', sinks', views' and outside consumers'), each linked to its
 * group page, with its state, members and lag on this and its other topics. */
function groupsSection(t: TopicPage): HTMLElement {
  if (!t.kafka) return h("p", { class: "muted", "data-testid": "topic-groups" }, "Not measured: kafmesh discover measures consumer groups with --brokers.");
  if (t.consumerGroups.length === 0) return h("p", { class: "muted", "data-testid": "topic-groups" }, "No measured group has committed offsets on this topic yet.");
  return h(
    "table",
    { "data-testid": "topic-groups" },
    h("thead", {}, h("tr", {}, h("th", {}, "Group"), h("th", {}, "Processor"), h("th", {}, "State"), h("th", {}, "Members"), h("th", {}, "Lag"))),
    h(
      "tbody",
      {},
      t.consumerGroups.map((g) =>
        h(
          "tr",
          { "data-group": g.name },
          h("td", {}, h("a", { href: href("group", g.name) }, g.name)),
          h("td", {}, g.processor ? h("a", { href: href("processor", g.processor.id) }, g.processor.name) : h("span", { class: "muted" }, "outside the mesh's processors")),
          h("td", {}, g.state || "unknown"),
          h("td", {}, String(g.members)),
          h("td", { title: "records the group has yet to consume, over all its topics" }, formatCount(Number(g.lag))),
        ),
      ),
    ),
  );
}

export function renderTopic(ctx: PageContext): Promise<void> {
  const pick = (d: TopicData): TopicPage | null => (d.topicById ? { ...d.topicById, kafka: d.kafka } : null);
  return loadPage<TopicData, TopicPage>(ctx, topicQuery, { id: ctx.route.id }, pick, "topic", (t) => {
    const graphBox = h("div", { class: "graph graph-medium", "data-testid": "topic-graph" });
    const stateOf = t.processorPersistences.length ? "state table of " + t.producers.filter((p) => t.processorPersistences.some((x) => x.id === p.id)).map(partLabel).join(", ").replace(/\n/g, " / ") : "";
    ctx.root.append(
      pageHeader("topic", t.name, [h("a", { href: href("map") }, "map"), h("a", { href: href("topics") }, "topics")]),
      facts([
        ["Message", h("code", { "data-testid": "topic-message" }, t.message)],
        ["Encoding", t.type],
        ["Written", written(t)],
        ["Role", stateOf || (t.producers.length ? "stream" : "written outside the mesh")],
        ["Producers", String(t.producers.length)],
        ["Consumers", String(t.consumers.length)],
        ["Records", h("a", { href: href("records", t.id), "data-testid": "topic-records-link" }, "browse the records")],
        ["Contracts", t.schemaConflicts.length
          ? h("a", { href: "#schema-conflicts", class: "conflict-mark", "data-testid": "conflict-mark" }, `⚠ ${t.schemaConflicts.length} schema conflict${t.schemaConflicts.length === 1 ? "" : "s"}`)
          : "writers and readers agree (or reported no descriptors)"],
      ]),
      graphBox,
      h("h2", {}, "Producers"),
      partTable(t, t.producers, true, "producer-table"),
      h("h2", {}, "Consumers"),
      partTable(t, t.consumers, false, "consumer-table"),
      h("h2", {}, "Consumer groups"),
      groupsSection(t),
      h("h2", {}, "Settings"),
      settingsSection(t.settings, t.kafka),
      ...(t.schemaConflicts.length ? [h("h2", { id: "schema-conflicts" }, "Schema conflicts"), conflictTable(t.schemaConflicts)] : []),
      h("h2", {}, "Schema"),
      t.messageSchema
        ? h("div", {}, h("p", { class: "muted" }, `${t.messageSchema.name} in ${t.messageSchema.file}${t.messageSchema.service ? ", as " + t.messageSchema.service.name + " describes it" : ""}`), schemaTable(t.messageSchema.fields))
        : h("p", { class: "muted", "data-testid": "schema-missing" }, "No service reported the descriptors of this message (services built with kafmesh 2 do)."),
    );
    const { nodes, edges } = topicGraph(t);
    const view = renderGraph(graphBox, nodes, edges, { onNavigate: ctx.navigate });
    ctx.setGraph(view);
    ctx.onCleanup(() => view.destroy());
  });
}
