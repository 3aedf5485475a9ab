// The banner that says when the UI shows a stale mesh: discover could not
// read its store and answers from the last graph it read
// (Query.meshStatus). It asks on every page change and every 10 s.

import { query } from "./graphql";
import { meshStatusQuery, type MeshStatusData } from "./queries";

export function watchMeshStatus(banner: HTMLElement, intervalMs = 10000): void {
  const check = async (): Promise<void> => {
    try {
      const { meshStatus: s } = await query<MeshStatusData>(meshStatusQuery);
      banner.hidden = !s.stale;
      if (s.stale) {
        const read = s.readAt ? new Date(s.readAt).toLocaleString() : "an unknown time";
        const since = s.since ? new Date(s.since).toLocaleString() : "recently";
        banner.textContent = `Stale: discover cannot read its store since ${since} (${s.error ?? "unknown error"}); this is the mesh as read at ${read}.`;
      }
    } catch {
      // The page itself shows why the API failed.
    }
  };
  void check();
  setInterval(() => void check(), intervalMs);
  window.addEventListener("hashchange", () => void check());
}
