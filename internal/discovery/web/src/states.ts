// Loading, empty and error states. Every page shows one of these instead of
// a blank screen or a crash.

import { ApiError, setToken } from "./graphql";
import { h } from "./dom";

/** loading is shown while a page waits for discovery. */
export function loading(what = "Loading"): HTMLElement {
  return h("div", { class: "state loading", "data-state": "loading", role: "status" }, h("span", { class: "spinner" }), `${what}…`);
}

/** empty explains that there is nothing to show yet, and why. */
export function empty(title: string, ...hints: (string | Node)[]): HTMLElement {
  return h("div", { class: "state empty", "data-state": "empty" }, h("h2", {}, title), ...hints.map((x) => h("p", {}, x)));
}

/** notFound is shown for an id that names nothing (any more). */
export function notFound(what: string, id: string): HTMLElement {
  return h(
    "div",
    { class: "state empty", "data-state": "notfound" },
    h("h2", {}, `No ${what} ${id ? `“${id}”` : "here"}`),
    h("p", {}, "It may have been removed from the mesh, or not been discovered yet."),
    h("p", {}, h("a", { href: "#/" }, "Back to the map")),
  );
}

/** failure says what went wrong and offers to retry (and a token form on 401). */
export function failure(err: unknown, retry: () => void): HTMLElement {
  const message = err instanceof Error ? err.message : String(err);
  const box = h("div", { class: "state error", "data-state": "error", role: "alert" }, h("h2", {}, "Could not load this page"), h("p", { class: "error-message" }, message));
  if (err instanceof ApiError && err.kind === "auth") {
    const input = h("input", { type: "password", placeholder: "bearer token", "aria-label": "bearer token" });
    const form = h("form", { class: "token-form" }, input, h("button", { type: "submit" }, "Use token"));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      setToken(input.value.trim());
      retry();
    });
    box.append(h("p", {}, "This discovery server requires a token (kafmesh discover --token)."), form);
  } else {
    const button = h("button", { type: "button" }, "Retry");
    button.addEventListener("click", retry);
    box.append(button);
  }
  return box;
}
