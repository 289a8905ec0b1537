/*
 * The row menu the live tables share (the monitor, the Callback Search tab): opened by a right-click on a row
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
