// Loading, empty and error states. Every page shows one of these instead of
// a blank screen or a crash.

import { ApiError, setToken, token } from "./graphql";
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

/** signIn asks for the bearer token when discovery answers 401: a sign-in
 * form, not an error page. A token that was tried and refused is said to be
 * so (the form then offers to forget it). */
export function signIn(retry: () => void): HTMLElement {
  const refused = token() !== "";
  const input = h("input", {
    id: "signin-token",
    type: "password",
    name: "token",
    autocomplete: "current-password",
    placeholder: "bearer token",
    required: true,
    "data-testid": "signin-token",
  });
  const form = h(
    "form",
    { class: "signin", "data-state": "signin", "data-testid": "signin" },
    h("h2", {}, "Sign in"),
    h("p", { class: "muted" }, "This discovery server asks for a token. Enter the one it was started with (kafmesh discover --token); it is kept in this browser."),
    refused ? h("p", { class: "signin-refused", "data-testid": "signin-refused" }, "The token you gave was not accepted.") : null,
    h("label", { for: "signin-token" }, "Token"),
    input,
    h("button", { type: "submit", "data-testid": "signin-submit" }, "Sign in"),
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const value = input.value.trim();
    if (!value) return;
    setToken(value);
    retry();
  });
  queueMicrotask(() => input.focus());
  return form;
}

/** failure says what went wrong and offers to retry; a 401 shows the
 * sign-in form instead. */
export function failure(err: unknown, retry: () => void): HTMLElement {
  if (err instanceof ApiError && err.kind === "auth") return signIn(retry);
  const message = err instanceof Error ? err.message : String(err);
  const box = h("div", { class: "state error", "data-state": "error", role: "alert" }, h("h2", {}, "Could not load this page"), h("p", { class: "error-message" }, message));
  const button = h("button", { type: "button" }, "Retry");
  button.addEventListener("click", retry);
  box.append(button);
  return box;
}
