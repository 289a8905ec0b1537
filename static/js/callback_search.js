/*
 * The Callback Search tab, live: rows upserted and removed by callback id from
 * /ws/business-processes/<code>/callbacks/ (protocol in monitoring/search_live.py), sorted and filtered here so
 * that the user's sort, filter and selected row survive every push; "Time waiting" counts on every second.
 *
 * The row menu (right-click, or the ⋮ button from the keyboard) is the monitor's (static/js/monitor.js): Send to
 * queue and Purge, each behind a confirmation dialog, posted with the CSRF token and the state the row showed
 * (expected_state), so that an action on a callback that moved on meanwhile is refused and said so.
 */
(function () {
  "use strict";

  const BACKOFF_FIRST_MS = 500;
  // Retries every 2–4 s at most (equal jitter): back within 5 s of the server or Redis returning (issue 7).
  const BACKOFF_MAX_MS = 4000;
  const PING_EVERY_MS = 30000; // keeps the list watched, so that it is pushed (monitoring/search_live.py)

  const config = JSON.parse(document.getElementById("search-config").textContent);
  const table = document.getElementById("search-table");
  const tbody = table.tBodies[0];
  const rowTemplate = document.getElementById("search-row-template");
  const badge = document.getElementById("live-badge");
  const messages = document.getElementById("search-messages");
  const filterInput = document.getElementById("search-filter");
  const totalText = document.querySelector("#search-count [data-total]");
  const moreText = document.querySelector("#search-count [data-more]");
  const columnCount = table.tHead.rows[0].cells.length;
  const emptyText = (tbody.querySelector("tr:not([data-callback]) td") || {}).textContent || "";

  const serverOffsetMs = Date.parse(config.now) - Date.now(); // server clock − this browser's, for Time waiting
  let sort = { key: "created", descending: true }; // the order the server renders
  let selectedId = null;

  /* ---- Rows ----------------------------------------------------------------------------------------- */

  function urlFor(name, id) {
    return config.urls[name].replace(config.callback, encodeURIComponent(id));
  }

  function rowsById() {
    const rows = new Map();
    for (const tr of tbody.querySelectorAll("tr[data-callback]")) rows.set(tr.dataset.callback, tr);
    return rows;
  }

  // The text of a cell (of its [data-text] part when it has a button beside); a changed cell flashes.
  function setCell(cell, text) {
    const target = cell.querySelector("[data-text]") || cell;
    if (target.textContent === text) return;
    target.textContent = text;
    cell.classList.remove("flash");
    void cell.offsetWidth; // restart the animation when the cell changes again while flashing
    cell.classList.add("flash");
  }

  table.addEventListener("animationend", (event) => event.target.classList.remove("flash"));

  function paint(tr, row) {
    tr.dataset.state = row.state;
    tr.dataset.created = row.created;
    for (const [key, text] of Object.entries(row.cells)) {
      const cell = tr.querySelector('td[data-col="' + key + '"]');
      if (cell) setCell(cell, text);
    }
    for (const cell of tr.querySelectorAll("td[data-col]")) {
      const value = row.sort[cell.dataset.col];
      if (value === undefined || value === null) cell.removeAttribute("data-sort");
      else cell.dataset.sort = String(value);
    }
    tr.classList.toggle("selected", tr.dataset.callback === selectedId);
    tr.setAttribute("aria-selected", String(tr.dataset.callback === selectedId));
    showWaiting(tr);
  }

  function addRow(row) {
    const tr = rowTemplate.content.firstElementChild.cloneNode(true);
    tr.dataset.callback = row.id;
    tr.querySelector(".row-menu-button").setAttribute("aria-label", "Actions for callback " + row.id);
    for (const empty of tbody.querySelectorAll("tr:not([data-callback])")) empty.remove();
    tbody.appendChild(tr);
    return tr;
  }

  function removeRow(tr) {
    if (menu.row === tr) menu.close(false);
    tr.remove();
  }

  function upsert(rows) {
    const existing = rowsById();
    for (const row of rows) paint(existing.get(row.id) || addRow(row), row);
  }

  function afterChange(message) {
    totalText.textContent = String(message.total);
    moreText.hidden = message.total <= message.limit;
    if (!tbody.querySelector("tr[data-callback]") && !tbody.rows.length) {
      const tr = tbody.insertRow();
      const td = tr.insertCell();
      td.colSpan = columnCount;
      td.textContent = emptyText;
    }
    applySort();
    applyFilter();
  }

  function applySnapshot(message) {
    const ids = new Set(message.rows.map((row) => row.id));
    for (const [id, tr] of rowsById()) if (!ids.has(id)) removeRow(tr);
    upsert(message.rows);
    afterChange(message);
  }

  function applyChanges(message) {
    const existing = rowsById();
    for (const id of message.removed) if (existing.has(id)) removeRow(existing.get(id));
    upsert(message.rows);
    afterChange(message);
  }

  /* ---- Time waiting --------------------------------------------------------------------------------- */

  // As monitoring.tables_business_process.format_wait: 45 s, 12 min, 2 h 05 min, 3 d 4 h.
  function formatWait(totalSeconds) {
    const seconds = Math.max(Math.floor(totalSeconds), 0);
    const days = Math.floor(seconds / 86400);
    const hours = Math.floor((seconds % 86400) / 3600);
    const minutes = Math.floor((seconds % 3600) / 60);
    if (days) return days + " d " + hours + " h";
    if (hours) return hours + " h " + String(minutes).padStart(2, "0") + " min";
    return minutes ? minutes + " min" : (seconds % 60) + " s";
  }

  function showWaiting(tr) {
    const cell = tr.querySelector('td[data-col="waiting"]');
    if (!cell || !tr.dataset.created) return;
    const text = formatWait((Date.now() + serverOffsetMs - Date.parse(tr.dataset.created)) / 1000);
    if (cell.textContent !== text) cell.textContent = text;
  }

  /* ---- Sorting and filter --------------------------------------------------------------------------- */

  function sortValue(tr, key) {
    const cell = tr.querySelector('td[data-col="' + key + '"]');
    if (!cell) return "";
    if (cell.dataset.sort !== undefined) return Number(cell.dataset.sort);
    return cell.textContent.trim().toLowerCase();
  }

  function compare(a, b) {
    if (typeof a === "number" && typeof b === "number") return a - b;
    if (typeof a === "number") return -1; // a time before "—"
    if (typeof b === "number") return 1;
    return a.localeCompare(b);
  }

  // Rows are moved only when the order changed, and focus is kept where it was.
  function applySort() {
    const rows = [...tbody.querySelectorAll("tr[data-callback]")];
    const sign = sort.descending ? -1 : 1;
    const sorted = rows
      .map((tr) => [sortValue(tr, sort.key), tr])
      .sort((x, y) => sign * compare(x[0], y[0]) || x[1].dataset.callback.localeCompare(y[1].dataset.callback))
      .map(([, tr]) => tr);
    if (sorted.every((tr, index) => tr === rows[index])) return;
    const focused = document.activeElement;
    for (const tr of sorted) tbody.appendChild(tr);
    if (focused && tbody.contains(focused)) focused.focus();
  }

  function showSortHeaders() {
    for (const th of table.tHead.rows[0].cells) {
      const active = th.dataset.col === sort.key;
      if (active) th.setAttribute("aria-sort", sort.descending ? "descending" : "ascending");
      else th.removeAttribute("aria-sort");
    }
  }

  for (const th of table.tHead.rows[0].cells) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "sort";
    button.textContent = th.textContent.trim();
    th.replaceChildren(button);
    button.addEventListener("click", () => {
      sort = { key: th.dataset.col, descending: sort.key === th.dataset.col ? !sort.descending : false };
      showSortHeaders();
      applySort();
    });
  }
  showSortHeaders();

  function applyFilter() {
    const words = filterInput.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    for (const tr of tbody.querySelectorAll("tr[data-callback]")) {
      const text = tr.textContent.toLowerCase();
      tr.hidden = !words.every((word) => text.includes(word));
      if (tr.hidden && menu.row === tr) menu.close(false);
    }
  }

  filterInput.addEventListener("input", applyFilter);

  /* ---- Selection ------------------------------------------------------------------------------------ */

  function select(tr) {
    selectedId = tr.dataset.callback;
    for (const other of tbody.querySelectorAll("tr[data-callback]")) {
      other.classList.toggle("selected", other === tr);
      other.setAttribute("aria-selected", String(other === tr));
    }
  }

  tbody.addEventListener("click", (event) => {
    const tr = event.target.closest("tr[data-callback]");
    if (tr) select(tr);
  });

  /* ---- Connection ----------------------------------------------------------------------------------- */

  let socket = null;
  let lastSeq = null;
  let awaitingSnapshot = true;
  let synced = false;
  let failures = 0;

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + config.socket);
    socket.addEventListener("open", () => {
      awaitingSnapshot = true; // the server sends one on connect
    });
    socket.addEventListener("message", (event) => receive(JSON.parse(event.data)));
    socket.addEventListener("close", () => {
      socket = null;
      synced = false;
      showBadge();
      const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** failures);
      failures += 1;
      setTimeout(connect, delay / 2 + Math.random() * (delay / 2));
    });
  }

  function resync() {
    awaitingSnapshot = true;
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "resync" }));
  }

  function receive(message) {
    switch (message.type) {
      case "snapshot":
        if (message.seq < lastSeq && !awaitingSnapshot) return resync(); // an older list than the one shown
        applySnapshot(message);
        lastSeq = message.seq;
        awaitingSnapshot = false;
        synced = true;
        failures = 0;
        break;
      case "rows":
        if (awaitingSnapshot || message.seq <= lastSeq) return; // the coming (or last) snapshot has it
        if (message.seq !== lastSeq + 1) return resync(); // a gap, or Redis started counting again
        applyChanges(message);
        lastSeq = message.seq;
        break;
      case "pong":
        return;
      case "error":
        console.warn("Callback Search WebSocket:", message.error);
        return;
      default:
        return;
    }
    showBadge();
  }

  function showBadge() {
    let state = "live";
    if (!synced) state = lastSeq === null && failures === 0 ? "connecting" : "reconnecting";
    const texts = { connecting: "Connecting…", reconnecting: "Reconnecting…", live: "Live" };
    badge.className = "live-badge " + state;
    badge.querySelector(".live-text").textContent = texts[state];
  }

  /* ---- Messages ------------------------------------------------------------------------------------- */

  function say(text, kind) {
    sayAbove(messages, text, kind);
  }

  /* ---- Row menu ------------------------------------------------------------------------------------- */

  // Why an action does not fit the row's state (null: it does), as the engine's rules say (callbacks/engine.py).
  const UNAVAILABLE = {
    "send-to-queue": (state, label) => (state === "scheduled" ? null : "only a Pending callback (this one is " + label + ")"),
    purge: (state, label) => (state === "processing" ? "not while an agent is on it (" + label + ")" : null),
  };

  const menu = RowMenu(tbody, document.getElementById("row-menu"), "tr[data-callback]", (tr, element) => {
    select(tr);
    const id = tr.dataset.callback;
    for (const link of element.querySelectorAll("[data-link]")) link.href = urlFor(link.dataset.link, id);
    const label = tr.querySelector('td[data-col="state"]').textContent.trim();
    const reasons = [];
    for (const button of element.querySelectorAll("[data-action]")) {
      const why = UNAVAILABLE[button.dataset.action](tr.dataset.state, label);
      button.setAttribute("aria-disabled", String(why !== null));
      if (why) reasons.push(button.textContent + ": " + why + ".");
    }
    const whyText = element.querySelector(".row-menu-why");
    if (whyText) {
      whyText.textContent = reasons.join(" ");
      whyText.hidden = !reasons.length;
    }
  });

  /* ---- Send to queue / Purge ------------------------------------------------------------------------ */

  const ACTIONS = {
    "send-to-queue": {
      title: "Send to queue",
      question: (name) => "Send callback " + name + " to queue now? It is offered to agents without waiting for its time.",
      done: (id) => "Callback " + id + " sent to queue.",
    },
    purge: {
      title: "Purge",
      question: (name) => "Purge callback " + name + "? It leaves the queue for good (end state Purged).",
      done: (id) => "Callback " + id + " purged.",
    },
  };

  const dialog = document.getElementById("confirm-dialog");

  function confirmAction(action, name) {
    return confirmInDialog(dialog, ACTIONS[action], name);
  }

  function describe(tr) {
    const cell = (key) => tr.querySelector('td[data-col="' + key + '"]').textContent.trim();
    const who = [cell("phone"), cell("customer_name")].filter((text) => text && text !== "—").join(", ");
    return tr.dataset.callback + (who ? " (" + who + ")" : "");
  }

  async function perform(action, tr) {
    const id = tr.dataset.callback;
    const expectedState = tr.dataset.state;
    const title = ACTIONS[action].title + " callback " + id;
    const confirmed = await confirmAction(action, describe(tr));
    if (tr.isConnected) tr.querySelector(".row-menu-button").focus();
    if (!confirmed) return;
    let response;
    try {
      response = await fetch(urlFor(action, id), {
        method: "POST",
        credentials: "same-origin",
        headers: { Accept: "application/json", "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
        body: JSON.stringify({ expected_state: expectedState }),
      });
    } catch (error) {
      return say(title + ": the server could not be reached.", "error");
    }
    if (response.ok) return say(ACTIONS[action].done(id), "ok");
    const body = await response.json().catch(() => ({}));
    const reason = body.detail || Object.values(body).flat().join(" ") || response.statusText;
    if (response.status === 403) return say(title + " is not allowed: " + reason, "error");
    say(title + " refused: " + reason, "error");
    resync(); // the row shows the callback as it is now
  }

  menu.element.addEventListener("click", (event) => {
    const item = event.target.closest("[data-action]");
    if (!item || !menu.row || item.getAttribute("aria-disabled") === "true") return;
    const tr = menu.row;
    menu.close(false);
    perform(item.dataset.action, tr);
  });

  /* ---- Start ---------------------------------------------------------------------------------------- */

  connect();
  setInterval(() => {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "ping" }));
  }, PING_EVERY_MS);
  setInterval(() => {
    for (const tr of tbody.querySelectorAll("tr[data-callback]")) showWaiting(tr);
  }, 1000);
})();
