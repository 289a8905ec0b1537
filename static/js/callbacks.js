/*
 * The Callbacks page (templates/callbacks/callback_list.html) and the Create callback form.
 * The list is server-rendered (filters, sorting, paging); this script only expands rows (details fetched
 * on demand), keeps the bulk selection, opens the row menu (right-click or the ⋯ button) with a
 * confirmation dialog calling the callback API, and reloads the slot picker when the business process or
 * the day changes.
 */
(function () {
  "use strict";

  function csrfToken() {
    const input = document.querySelector("[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  // The slot picker: <option>s for a business process and a local day, computed by the server.
  async function loadSlots(url, businessProcess, day, select) {
    if (!businessProcess || !day) {
      select.innerHTML = '<option value="">Choose a business process and a day</option>';
      return;
    }
    const query = new URLSearchParams({ business_process: businessProcess, day: day });
    const response = await fetch(url + "?" + query.toString(), { headers: { "X-Requested-With": "fetch" } });
    select.innerHTML = response.ok ? await response.text() : '<option value="">Slots could not be loaded</option>';
  }

  // ------------------------------------------------------------------------------------------------
  // Create callback

  const createForm = document.getElementById("cbp-create-form");
  if (createForm) {
    const bp = createForm.querySelector("#id_business_process");
    const day = createForm.querySelector("#id_day");
    const slot = createForm.querySelector("#id_slot");
    const scheduled = createForm.querySelector(".cbp-scheduled-fields");
    const showScheduled = function () {
      const kind = createForm.querySelector("input[name=kind]:checked");
      scheduled.hidden = !kind || kind.value !== "scheduled";
    };
    const reload = function () {
      loadSlots(createForm.dataset.slots, bp.value, day.value, slot);
    };
    bp.addEventListener("change", reload);
    day.addEventListener("change", reload);
    createForm.querySelectorAll("input[name=kind]").forEach(function (input) {
      input.addEventListener("change", showScheduled);
    });
    showScheduled();
  }

  // ------------------------------------------------------------------------------------------------
  // The list

  const page = document.getElementById("cbp-page");
  if (!page) return;
  const table = page.querySelector("table.cbp-table");

  function apiUrl(externalId, action) {
    return page.dataset.api.replace("__id__", encodeURIComponent(externalId)) + action + "/";
  }

  // Expanding a row: its attempts and audit trail, fetched once.
  if (table) {
    table.addEventListener("click", async function (event) {
      const button = event.target.closest(".cbp-expand");
      if (!button) return;
      const row = button.closest("tr");
      const next = row.nextElementSibling;
      if (next && next.classList.contains("cbp-details")) {
        const open = next.hidden;
        next.hidden = !open;
        button.setAttribute("aria-expanded", String(open));
        button.textContent = open ? "▾" : "▸";
        return;
      }
      const details = document.createElement("tr");
      details.className = "cbp-details";
      const cell = document.createElement("td");
      cell.colSpan = row.cells.length;
      cell.textContent = "Loading…";
      details.appendChild(cell);
      row.after(details);
      button.setAttribute("aria-expanded", "true");
      button.textContent = "▾";
      const url = page.dataset.details.replace("__id__", encodeURIComponent(row.dataset.callback));
      const response = await fetch(url, { headers: { "X-Requested-With": "fetch" } });
      cell.innerHTML = response.ok ? await response.text() : "";
      if (!response.ok) cell.textContent = "The details could not be loaded (" + response.status + ").";
    });
  }

  if (page.dataset.mayAct !== "true" || !table) return;

  // ------------------------------------------------------------------------------------------------
  // Bulk selection and bulk cancel

  const selectPage = table.querySelector(".cbp-select-page");
  const selectedCount = document.getElementById("cbp-selected-count");
  const cancelSelected = document.getElementById("cbp-cancel-selected");
  const bulkDialog = document.getElementById("cbp-bulk-dialog");
  const bulkForm = document.getElementById("cbp-bulk-form");
  const bulkText = document.getElementById("cbp-bulk-text");
  const bulkConfirm = document.getElementById("cbp-bulk-confirm");

  function selectedBoxes() {
    return Array.from(table.querySelectorAll(".cbp-select:checked"));
  }

  function updateSelection() {
    const count = selectedBoxes().length;
    selectedCount.textContent = String(count);
    cancelSelected.disabled = count === 0;
  }

  table.addEventListener("change", function (event) {
    if (event.target === selectPage) {
      table.querySelectorAll(".cbp-select").forEach(function (box) {
        box.checked = selectPage.checked;
      });
    }
    updateSelection();
  });

  function plural(n, word) {
    return n + " " + word + (n === 1 ? "" : "s");
  }

  async function openBulk(selection) {
    const body = new FormData();
    body.append("selection", selection);
    body.append("filters", bulkForm.elements.filters.value);
    bulkForm.querySelectorAll("input[name=id]").forEach(function (input) {
      input.remove();
    });
    if (selection === "ids") {
      selectedBoxes().forEach(function (box) {
        body.append("id", box.value);
        const input = document.createElement("input");
        input.type = "hidden";
        input.name = "id";
        input.value = box.value;
        bulkForm.appendChild(input);
      });
    }
    bulkForm.elements.selection.value = selection;
    const response = await fetch(page.dataset.preview, {
      method: "POST",
      body: body,
      headers: { "X-CSRFToken": csrfToken(), "X-Requested-With": "fetch" },
    });
    const answer = await response.json();
    bulkText.innerHTML = "";
    const lines = [];
    if (!response.ok || answer.detail) {
      lines.push(answer.detail || "The selection cannot be cancelled.");
      bulkConfirm.disabled = true;
    } else {
      const scope = selection === "all" ? " open in the current time range and filters." : " selected.";
      lines.push(plural(answer.count, "callback") + scope);
      lines.push(plural(answer.cancellable, "callback") + " will be cancelled.");
      if (answer.processing_count) {
        lines.push(
          plural(answer.processing_count, "callback") +
            " in Processing (an agent is on them) will not be cancelled: " +
            answer.processing.join(", ") +
            (answer.processing_count > answer.processing.length ? "…" : "") +
            "."
        );
      }
      if (answer.completed_count) {
        lines.push(plural(answer.completed_count, "callback") + " already completed will be left as they are.");
      }
      bulkConfirm.disabled = answer.cancellable === 0;
    }
    lines.forEach(function (line) {
      const p = document.createElement("p");
      p.textContent = line;
      bulkText.appendChild(p);
    });
    bulkDialog.showModal();
  }

  cancelSelected.addEventListener("click", function () {
    openBulk("ids");
  });
  document.getElementById("cbp-cancel-all").addEventListener("click", function () {
    openBulk("all");
  });
  document.getElementById("cbp-bulk-close").addEventListener("click", function () {
    bulkDialog.close();
  });

  // ------------------------------------------------------------------------------------------------
  // Row menu and single actions

  const menu = document.getElementById("cbp-row-menu");
  const dialog = document.getElementById("cbp-action-dialog");
  const title = document.getElementById("cbp-action-title");
  const text = document.getElementById("cbp-action-text");
  const error = document.getElementById("cbp-action-error");
  const confirmButton = document.getElementById("cbp-action-confirm");
  const rescheduleFields = document.getElementById("cbp-reschedule-fields");
  const rescheduleDay = document.getElementById("cbp-reschedule-day");
  const rescheduleSlot = document.getElementById("cbp-reschedule-slot");
  const cancelFields = document.getElementById("cbp-cancel-fields");
  const cancelReason = document.getElementById("cbp-cancel-reason");
  let menuRow = null;
  let menuButton = null;
  let actionRow = null;
  let action = null;

  // Which actions a state offers; the server decides anyway (and says why it refuses).
  const OFFERED = {
    reschedule: ["scheduled"],
    "send-to-queue": ["scheduled"],
    cancel: ["scheduled", "queued", "routing", "processing"],
    purge: ["scheduled", "queued", "routing", "processing"],
    recreate: ["completed"],
  };
  const DIALOGS = {
    reschedule: ["Reschedule", "Choose a new slot for callback {id}."],
    "send-to-queue": ["Send to queue", "Send callback {id} to queue now? It is offered to agents while its business process is Active."],
    cancel: ["Cancel callback", "Cancel callback {id}? It ends Cancelled and is not called."],
    purge: ["Purge callback", "Purge callback {id}? It ends Purged and is not called."],
    recreate: ["Recreate callback", "Create a new callback from completed callback {id}?"],
  };

  function closeMenu() {
    menu.hidden = true;
    if (menuRow) menuRow.classList.remove("menu-open");
    if (menuButton) menuButton.setAttribute("aria-expanded", "false");
    menuRow = null;
  }

  function openMenu(row, x, y, button) {
    closeMenu();
    menuRow = row;
    menuButton = button || row.querySelector(".cbp-menu-button");
    row.classList.add("menu-open");
    if (menuButton) menuButton.setAttribute("aria-expanded", "true");
    menu.querySelectorAll("[data-action]").forEach(function (item) {
      item.hidden = !OFFERED[item.dataset.action].includes(row.dataset.state);
    });
    menu.hidden = false;
    menu.style.left = Math.min(x, window.innerWidth - menu.offsetWidth - 8) + "px";
    menu.style.top = Math.min(y, window.innerHeight - menu.offsetHeight - 8) + "px";
    const first = menu.querySelector("[data-action]:not([hidden])");
    if (first) first.focus();
  }

  table.addEventListener("contextmenu", function (event) {
    const row = event.target.closest("tbody tr[data-callback]");
    if (!row) return;
    event.preventDefault();
    openMenu(row, event.clientX, event.clientY);
  });
  table.addEventListener("click", function (event) {
    const button = event.target.closest(".cbp-menu-button");
    if (!button) return;
    const box = button.getBoundingClientRect();
    openMenu(button.closest("tr"), box.left, box.bottom, button);
  });
  document.addEventListener("click", function (event) {
    if (!menu.hidden && !menu.contains(event.target) && !event.target.closest(".cbp-menu-button")) closeMenu();
  });
  menu.addEventListener("keydown", function (event) {
    const items = Array.from(menu.querySelectorAll("[data-action]:not([hidden])"));
    const index = items.indexOf(document.activeElement);
    if (event.key === "Escape") {
      const button = menuButton;
      closeMenu();
      if (button) button.focus();
    } else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      const step = event.key === "ArrowDown" ? 1 : -1;
      items[(index + step + items.length) % items.length].focus();
    }
  });

  menu.addEventListener("click", function (event) {
    const item = event.target.closest("[data-action]");
    if (!item || !menuRow) return;
    actionRow = menuRow;
    action = item.dataset.action;
    closeMenu();
    const [heading, sentence] = DIALOGS[action];
    title.textContent = heading;
    text.textContent = sentence.replace("{id}", actionRow.dataset.callback);
    error.hidden = true;
    confirmButton.disabled = false;
    rescheduleFields.hidden = action !== "reschedule";
    cancelFields.hidden = action !== "cancel";
    cancelReason.value = "";
    if (action === "reschedule") {
      rescheduleDay.value = "";
      rescheduleSlot.innerHTML = '<option value="">Choose a day</option>';
    }
    dialog.showModal();
  });

  rescheduleDay.addEventListener("change", function () {
    loadSlots(page.dataset.slots, actionRow.dataset.bpCode, rescheduleDay.value, rescheduleSlot);
  });

  function refusal(answer, status) {
    if (status === 403) return "You may not act on callbacks.";
    if (status === 404) return "This callback no longer exists.";
    let message = answer.detail || "";
    if (!message) {
      message = Object.entries(answer)
        .map(function ([field, errors]) {
          return field + ": " + [].concat(errors).join(" ");
        })
        .join(" ");
    }
    if (answer.state_label) message += " Current state: " + answer.state_label + ".";
    return message || "The action was refused (" + status + ").";
  }

  confirmButton.addEventListener("click", async function () {
    const body = { expected_state: actionRow.dataset.state };
    if (action === "reschedule") {
      if (!rescheduleSlot.value) {
        error.textContent = "Choose a slot.";
        error.hidden = false;
        return;
      }
      body.desired_time = rescheduleSlot.value;
    }
    if (action === "cancel" && cancelReason.value.trim()) body.reason = cancelReason.value.trim();
    confirmButton.disabled = true;
    let response;
    let answer = {};
    try {
      response = await fetch(apiUrl(actionRow.dataset.callback, action), {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
        body: JSON.stringify(body),
      });
      answer = await response.json().catch(function () {
        return {};
      });
    } catch (failure) {
      error.textContent = "The server could not be reached; nothing was changed.";
      error.hidden = false;
      confirmButton.disabled = false;
      return;
    }
    if (response.ok) {
      dialog.close();
      window.location.reload();
      return;
    }
    error.textContent = refusal(answer, response.status);
    error.hidden = false;
    if (answer.state) actionRow.dataset.state = answer.state;
  });
})();
