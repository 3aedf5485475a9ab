// A modal confirmation for operator actions (offset reset, replay): says
// what will happen and does it only on an explicit confirm. Escape, the
// cancel button and a click outside cancel.

import { h } from "./dom";

/** confirmAction shows the dialog and resolves true only when confirmed. */
export function confirmAction(title: string, body: (Node | string)[], confirmLabel: string): Promise<boolean> {
  return new Promise((resolve) => {
    const confirm = h("button", { type: "button", class: "danger", "data-testid": "confirm-ok" }, confirmLabel);
    const cancel = h("button", { type: "button", "data-testid": "confirm-cancel" }, "Cancel");
    const dialog = h(
      "dialog",
      { class: "confirm", "data-testid": "confirm-dialog", "aria-labelledby": "confirm-title" },
      h("h2", { id: "confirm-title" }, title),
      ...body.map((b) => (typeof b === "string" ? h("p", {}, b) : b)),
      h("div", { class: "confirm-buttons" }, cancel, confirm),
    );
    let answered = false;
    const done = (ok: boolean) => {
      if (answered) return;
      answered = true;
      dialog.close();
      dialog.remove();
      resolve(ok);
    };
    confirm.addEventListener("click", () => done(true));
    cancel.addEventListener("click", () => done(false));
    dialog.addEventListener("cancel", (ev) => {
      ev.preventDefault();
      done(false);
    });
    dialog.addEventListener("click", (ev) => {
      if (ev.target === dialog) done(false);
    });
    document.body.append(dialog);
    dialog.showModal();
    cancel.focus();
  });
}
