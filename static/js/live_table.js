/*
 * What the live tables share (the monitor, the Callback Search tab): the row menu, the confirmation of an
 * action, the messages above the table, and the CSRF token their posts carry.
 *
 * The row menu: opened by a right-click on a row
 * or by the row's ⋮ button (Enter, Space or ArrowDown on it); inside, arrow keys, Home and End move, Escape and
 * Tab close it and give the focus back to the row's button.
 *
 *   const menu = RowMenu(tbody, menuElement, "tr[data-bp]", (tr, element) => { … set links and items … });
 *   menu.row    the row it is open on (null when closed)
 *   menu.close(returnFocus)
 */
window.RowMenu = function RowMenu(tbody, element, rowSelector, prepare) {
  "use strict";

  const menu = {
    element,
    row: null,

    items() {
      return [...element.querySelectorAll('[role="menuitem"]')].filter((item) => !item.hidden);
    },

    open(tr, x, y) {
      this.row = tr;
      prepare(tr, element);
      element.hidden = false;
      const box = element.getBoundingClientRect();
      element.style.left = Math.max(0, Math.min(x, innerWidth - box.width - 4)) + "px";
      element.style.top = Math.max(0, Math.min(y, innerHeight - box.height - 4)) + "px";
      tr.querySelector(".row-menu-button").setAttribute("aria-expanded", "true");
      tr.classList.add("menu-open");
      this.items()[0].focus();
    },

    close(returnFocus) {
      if (!this.row) return;
      const button = this.row.querySelector(".row-menu-button");
      button.setAttribute("aria-expanded", "false");
      this.row.classList.remove("menu-open");
      element.hidden = true;
      this.row = null;
      if (returnFocus) button.focus();
    },

    move(step) {
      const items = this.items();
      const at = items.indexOf(document.activeElement);
      items[(at + step + items.length) % items.length].focus();
    },
  };

  tbody.addEventListener("contextmenu", (event) => {
    const tr = event.target.closest(rowSelector);
    if (!tr) return;
    event.preventDefault();
    menu.close(false);
    menu.open(tr, event.clientX, event.clientY);
  });

  tbody.addEventListener("click", (event) => {
    const button = event.target.closest(".row-menu-button");
    if (!button) return;
    const tr = button.closest("tr");
    if (menu.row === tr) return menu.close(true);
    menu.close(false);
    const box = button.getBoundingClientRect();
    menu.open(tr, box.left, box.bottom + 2);
  });

  tbody.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" && event.target.matches(".row-menu-button")) {
      event.preventDefault();
      event.target.click();
    }
  });

  element.addEventListener("keydown", (event) => {
    const items = menu.items();
    if (event.key === "ArrowDown") menu.move(1);
    else if (event.key === "ArrowUp") menu.move(-1);
    else if (event.key === "Home") items[0].focus();
    else if (event.key === "End") items[items.length - 1].focus();
    else if (event.key === "Escape" || event.key === "Tab") menu.close(true);
    else if (event.key === " " && event.target.matches("a")) event.target.click();
    else return;
    event.preventDefault();
  });

  document.addEventListener("mousedown", (event) => {
    if (menu.row && !element.contains(event.target) && !event.target.closest(".row-menu-button")) {
      menu.close(false);
    }
  });
  addEventListener("resize", () => menu.close(false));
  addEventListener("scroll", () => menu.close(false), true);

  return menu;
};

// A message above the table (kind "ok" or "error"), replacing the previous one; "ok" ones go by themselves.
window.sayAbove = function sayAbove(messages, text, kind) {
  "use strict";
  const item = document.createElement("p");
  item.className = "monitor-message " + kind;
  item.textContent = text;
  const dismiss = document.createElement("button");
  dismiss.type = "button";
  dismiss.className = "dismiss";
  dismiss.setAttribute("aria-label", "Dismiss");
  dismiss.textContent = "×";
  dismiss.addEventListener("click", () => item.remove());
  item.appendChild(dismiss);
  messages.replaceChildren(item);
  if (kind === "ok") setTimeout(() => item.remove(), 6000);
};

// Asks in the page's confirmation <dialog>; resolves true when confirmed. action: {title, question(name)}.
window.confirmInDialog = function confirmInDialog(dialog, action, name) {
  "use strict";
  return new Promise((resolve) => {
    dialog.querySelector("#confirm-title").textContent = action.title;
    dialog.querySelector("#confirm-text").textContent = action.question(name);
    dialog.querySelector("#confirm-ok").textContent = action.title;
    dialog.returnValue = "cancel";
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "confirm"), { once: true });
    dialog.showModal();
  });
};

window.csrfToken = function csrfToken() {
  "use strict";
  const cookie = document.cookie.split("; ").find((part) => part.startsWith("csrftoken="));
  return cookie ? decodeURIComponent(cookie.slice("csrftoken=".length)) : "";
};
