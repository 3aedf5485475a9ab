// A topic's settings as the brokers report them (discovery reads them with
// --brokers): partitions, replication factor and configs, each value marked
// as set on the topic or inherited, and why there are none when there are
// none.

import { h, relativeTime } from "../dom";
import type { KafkaStatus, TopicConfig, TopicSettings } from "../queries";
import { facts } from "./common";

const sources: Record<string, string> = {
  TOPIC: "set on the topic",
  BROKER: "broker (dynamic)",
  CLUSTER: "cluster default",
  STATIC_BROKER: "broker config file",
  DEFAULT: "Kafka default",
};

/** readable adds a human reading to durations (…ms) and sizes (…bytes). */
export function readable(name: string, value: string | null): string {
  if (value === null) return "(hidden)";
  if (!/^-?\d+$/.test(value)) return value;
  const n = Number(value);
  const measured = name.endsWith(".ms") || name.endsWith(".bytes");
  // -1 and Long.MAX_VALUE are how Kafka says "no limit".
  if (measured && (n < 0 || n >= Number.MAX_SAFE_INTEGER)) return `${value} (no limit)`;
  if (name.endsWith(".ms") && n >= 1000) return `${value} (${duration(n)})`;
  if (name.endsWith(".bytes") && n >= 1024) return `${value} (${size(n)})`;
  return value;
}

function duration(ms: number): string {
  const units: [number, string][] = [
    [86_400_000, "d"],
    [3_600_000, "h"],
    [60_000, "min"],
    [1000, "s"],
  ];
  for (const [per, unit] of units) {
    if (ms >= per) return `${trim(ms / per)} ${unit}`;
  }
  return `${ms} ms`;
}

/** size writes a byte count in the largest unit it reaches (GiB, MiB, KiB,
 * else B), with at most one decimal. */
export function size(bytes: number): string {
  const units: [number, string][] = [
    [1 << 30, "GiB"],
    [1 << 20, "MiB"],
    [1 << 10, "KiB"],
  ];
  for (const [per, unit] of units) {
    if (bytes >= per) return `${trim(bytes / per)} ${unit}`;
  }
  return `${bytes} B`;
}

function trim(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}

function configTable(configs: TopicConfig[]): HTMLElement {
  if (configs.length === 0) return h("p", { class: "muted" }, "The broker reported no config of this topic.");
  return h(
    "table",
    { "data-testid": "settings-table" },
    h("thead", {}, h("tr", {}, h("th", {}, "Config"), h("th", {}, "Value"), h("th", {}, "Source"))),
    h(
      "tbody",
      {},
      configs.map((c) =>
        h(
          "tr",
          { "data-config": c.name, class: c.isDefault ? null : "overridden" },
          h("td", {}, h("code", {}, c.name)),
          h("td", { "data-value": c.value ?? "" }, readable(c.name, c.value)),
          h("td", {}, c.isDefault ? h("span", { class: "muted" }, sources[c.source] ?? c.source.toLowerCase()) : h("span", { class: "badge set" }, sources.TOPIC)),
        ),
      ),
    ),
  );
}

function note(state: string, text: string, cls = "muted"): HTMLElement {
  return h("p", { class: cls, "data-testid": "settings-note", "data-state": state }, text);
}

/**
 * settingsSection shows the settings, or says why there are none: no
 * broker connection (discovery runs without --brokers), a failed read, no
 * read yet, or no such topic in Kafka.
 */
export function settingsSection(settings: TopicSettings | null | undefined, kafka: KafkaStatus | null | undefined): HTMLElement {
  const box = h("section", { "data-testid": "topic-settings" });
  if (!settings) {
    if (!kafka) {
      box.append(note("no-brokers", "No broker connection — run kafmesh discover with --brokers to see the topic's partitions, replication factor and configs."));
    } else if (kafka.topicSettingsError && !kafka.topicSettingsReadAt) {
      box.append(note("error", `Could not read the topic settings from Kafka: ${kafka.topicSettingsError}`, "error-text"));
    } else if (!kafka.topicSettingsReadAt) {
      box.append(note("pending", "Not read from Kafka yet."));
    } else {
      const failed = kafka.topicSettingsError ? ` The last read failed: ${kafka.topicSettingsError}` : "";
      box.append(note("missing", `Kafka has no topic by this name (read ${relativeTime(kafka.topicSettingsReadAt)}).${failed}`));
    }
    return box;
  }
  box.append(
    facts([
      ["Partitions", h("span", { "data-testid": "settings-partitions" }, String(settings.partitions))],
      ["Replication factor", h("span", { "data-testid": "settings-replication" }, String(settings.replicationFactor))],
      ["Read", h("span", { title: settings.readAt }, relativeTime(settings.readAt))],
    ]),
  );
  if (settings.error) box.append(note("partial", `The last read failed: ${settings.error} (showing the last good one).`, "error-text"));
  box.append(configTable(settings.configs ?? []));
  return box;
}
