// Live flow: every few seconds, the consumer-group lag and records per
// second of every processor, which discovery measures from the brokers when
// it runs with --brokers (Processor.lag). Without it (or on an older
// discovery whose schema has no Processor.lag) the poller says so.
//
// A processor is marked as falling behind when its lag is at least
// behindLag records, or has grown in each of the last growingSamples
// samples while above zero.

import { ApiError, query } from "./graphql";
import { flowQuery, type FlowData } from "./queries";

/** Lag at which a processor counts as behind whatever its trend. */
export const behindLag = 1000;
/** Consecutive growing samples after which a lagging processor counts as behind. */
export const growingSamples = 3;

export interface ProcessorFlow {
  name: string;
  service: string;
  group: string;
  lag: number;
  recordsPerSecond: number;
  behind: boolean;
  state: string;
  error: string | null;
}

export interface ServiceFlow {
  lag: number;
  recordsPerSecond: number;
  behind: string[];
}

export interface FlowSample {
  /** Processor id → its flow, for processors discovery measured. */
  processors: Map<string, ProcessorFlow>;
  /** Service id → summed over its processors. */
  services: Map<string, ServiceFlow>;
  /** Topic name → lag and records per second summed over the processors reading it. */
  topics: Map<string, { lag: number; recordsPerSecond: number }>;
}

export type FlowState = { kind: "sample"; sample: FlowSample } | { kind: "unavailable"; reason: string } | { kind: "error"; reason: string };

/** LagTrend remembers each processor's recent lags to tell growth. */
export class LagTrend {
  private readonly history = new Map<string, number[]>();

  /** add records a lag and reports whether the processor is behind. */
  add(id: string, lag: number): boolean {
    const h = this.history.get(id) ?? [];
    h.push(lag);
    if (h.length > growingSamples + 1) h.shift();
    this.history.set(id, h);
    if (lag >= behindLag) return true;
    if (lag === 0 || h.length < growingSamples + 1) return false;
    return h.every((v, i) => i === 0 || v > h[i - 1]);
  }
}

function toNumber(v: number | string): number {
  return typeof v === "number" ? v : Number(v);
}

/** summarize adds up a flow answer per service. */
export function summarize(data: FlowData, trend: LagTrend): FlowSample {
  const processors: FlowSample["processors"] = new Map();
  const services: FlowSample["services"] = new Map();
  const topics: FlowSample["topics"] = new Map();
  for (const s of data.services) {
    for (const c of s.components) {
      for (const p of c.processors) {
        if (!p.lag) continue;
        const lag = toNumber(p.lag.total);
        const rps = p.lag.topics.reduce((sum, t) => sum + t.recordsPerSecond, 0);
        for (const t of p.lag.topics) {
          const tf = topics.get(t.name) ?? { lag: 0, recordsPerSecond: 0 };
          tf.lag += toNumber(t.lag);
          tf.recordsPerSecond += t.recordsPerSecond;
          topics.set(t.name, tf);
        }
        const behind = trend.add(p.id, lag);
        processors.set(p.id, { name: p.name, service: s.id, group: p.groupName, lag, recordsPerSecond: rps, behind, state: p.lag.state, error: p.lag.error });
        const sf = services.get(s.id) ?? { lag: 0, recordsPerSecond: 0, behind: [] };
        sf.lag += lag;
        sf.recordsPerSecond += rps;
        if (behind) sf.behind.push(p.name);
        services.set(s.id, sf);
      }
    }
  }
  return { processors, services, topics };
}

const schemaLacksLag = /Cannot query field "lag"/;

/** pollFlow calls onState with every sample until signal aborts. */
export function pollFlow(signal: AbortSignal, onState: (s: FlowState) => void, intervalMs = 3000): void {
  let timer = 0;
  const trend = new LagTrend();
  const tick = async () => {
    try {
      const data = await query<FlowData>(flowQuery, {}, signal);
      const sample = summarize(data, trend);
      const hasProcessors = data.services.some((s) => s.components.some((c) => c.processors.length > 0));
      if (sample.processors.size === 0 && hasProcessors) {
        onState({ kind: "unavailable", reason: "no lag measured (kafmesh discover measures it with --brokers)" });
      } else {
        onState({ kind: "sample", sample });
      }
    } catch (err) {
      if (signal.aborted) return;
      if (err instanceof ApiError && err.kind === "graphql" && schemaLacksLag.test(err.message)) {
        onState({ kind: "unavailable", reason: "this discovery server does not measure lag" });
        return; // the schema will not change while the page is open
      }
      onState({ kind: "error", reason: (err as Error).message });
    }
    if (!signal.aborted) timer = window.setTimeout(tick, intervalMs);
  };
  signal.addEventListener("abort", () => window.clearTimeout(timer));
  void tick();
}
