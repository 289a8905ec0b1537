/*
 * The Business Process monitor, live: cells patched in place from /ws/monitor/ (protocol in monitoring/live.py),
 * a Live / Reconnecting… / Stale badge, and the row menu (right-click or the ⋮ button) with Stop / Resume
 * callbacks and the business process's tabs.
 *
 * Rows are never reordered, so the sort the user chose holds; a business process the page did not have is
 * appended from the row template, one that went away is removed.
 */
(function () {
  "use strict";

  const STALE_AFTER_MS = 10000; // heartbeats come every ~2 s
  const RECONNECT_STALE_AFTER_MS = 20000; // a socket that stays silent this long is replaced
  const BACKOFF_FIRST_MS = 500;
  // Retries every 2–4 s at most (equal jitter): back within 5 s of the server or Redis returning (issue 7).
  const BACKOFF_MAX_MS = 4000;

  const config = JSON.parse(document.getElementById("monitor-config").textContent);
  const table = document.getElementById("monitor-table");
  const tbody = table.tBodies[0];
  const rowTemplate = document.getElementById("monitor-row-template");
  const badge = document.getElementById("live-badge");
  const messages = document.getElementById("monitor-messages");

  /* ---- Cells ---------------------------------------------------------------------------------------- */

  function statusClass(label) {
    return "status-" + label.toLowerCase().split(/\s+/).filter(Boolean).join("-");
  }

  function urlFor(name, code) {
    return config.urls[name].replace(config.code, encodeURIComponent(code));
  }

  function rowsByCode() {
    const rows = new Map();
    for (const tr of tbody.querySelectorAll("tr[data-bp]")) rows.set(tr.dataset.bp, tr);
    return rows;
  }

  // Sets the text of a cell (of its link or badge when it has one); a cell whose text changed flashes.
  function setCell(cell, text) {
    const target = cell.querySelector("a, .badge") || cell;
    if (target.textContent === text) return;
    target.textContent = text;
    cell.classList.remove("flash");
    void cell.offsetWidth; // restart the animation when the cell changes again while flashing
    cell.classList.add("flash");
  }

  table.addEventListener("animationend", (event) => event.target.classList.remove("flash"));

  function paint(tr, row) {
    for (const [key, text] of Object.entries(row.cells)) {
      const cell = tr.querySelector('td[data-col="' + key + '"]');
      if (cell) setCell(cell, text);
    }
    if (!row.code) return; // the totals row has no status, name or thresholds
    tr.dataset.status = row.status;
    const statusBadge = tr.querySelector('td[data-col="status"] .badge');
    if (statusBadge) statusBadge.className = "badge " + statusClass(row.cells.status);
    const name = tr.querySelector(".bp-name");
    if (name && name.textContent !== row.name) {
      name.textContent = row.name;
      tr.querySelector(".row-menu-button").setAttribute("aria-label", "Actions for " + row.name);
    }
    tr.classList.toggle("over-to-be-processed", row.over.to_be_processed);
    tr.classList.toggle("over-failed", row.over.pct_failed);
    tr.querySelector('td[data-col="to_be_processed"]').classList.toggle("over", row.over.to_be_processed);
    tr.querySelector('td[data-col="pct_failed"]').classList.toggle("over", row.over.pct_failed);
  }

  function addRow(row) {
    const tr = rowTemplate.content.firstElementChild.cloneNode(true);
    tr.dataset.bp = row.code;
    for (const link of tr.querySelectorAll("a[href]")) {
      link.setAttribute("href", link.getAttribute("href").replace(config.code, encodeURIComponent(row.code)));
    }
    tr.querySelector(".bp-code").textContent = row.code;
    for (const emptyText of tbody.querySelectorAll("tr:not([data-bp])")) emptyText.remove();
    tbody.appendChild(tr);
    return tr;
  }

  function removeRow(tr) {
    if (menu.row === tr) menu.close(false);
    tr.remove();
  }

  function applyRows(rows) {
    const existing = rowsByCode();
    for (const row of rows) paint(existing.get(row.code) || addRow(row), row);
  }

  function applyTotals(totals) {
    const footer = table.tFoot && table.tFoot.rows[0];
    if (footer && totals) paint(footer, totals);
  }

  function applySnapshot(message) {
    const codes = new Set(message.rows.map((row) => row.code));
    for (const [code, tr] of rowsByCode()) if (!codes.has(code)) removeRow(tr);
    applyRows(message.rows);
    applyTotals(message.totals);
  }

  function applyChanges(message) {
    const existing = rowsByCode();
    for (const code of message.removed || []) if (existing.has(code)) removeRow(existing.get(code));
    applyRows(message.rows);
    applyTotals(message.totals);
  }

  /* ---- Connection ----------------------------------------------------------------------------------- */

  let socket = null;
  let lastSeq = null;
  let awaitingSnapshot = true;
  let synced = false; // this socket brought its snapshot
  let syncedAt = 0;
  let failures = 0; // connection attempts since the last snapshot, for the backoff
  let newestComputedAt = 0; // the server's time of the newest computation seen
  let lastProgressAt = Date.now(); // the viewer's time when newestComputedAt last moved on

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + "/ws/monitor/");
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
      // Equal jitter: monitors cut off together do not all come back at the same instant.
      setTimeout(connect, delay / 2 + Math.random() * (delay / 2));
    });
  }

  function send(frame) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(frame));
  }

  function resync() {
    awaitingSnapshot = true;
    send({ type: "resync" });
  }

  function receive(message) {
    switch (message.type) {
      case "snapshot":
        applySnapshot(message);
        lastSeq = message.seq;
        awaitingSnapshot = false;
        synced = true;
        syncedAt = Date.now();
        failures = 0;
        break;
      case "rows":
        if (awaitingSnapshot || message.seq === lastSeq) return; // the coming (or last) snapshot has it
        if (message.seq !== lastSeq + 1) return resync(); // a gap, or Redis started counting again
        applyChanges(message);
        lastSeq = message.seq;
        break;
      case "heartbeat":
        if (awaitingSnapshot) return;
        if (message.seq !== lastSeq) return resync();
        break;
      case "error":
        console.warn("Monitor WebSocket:", message.error);
        return;
      default:
        return;
    }
    progress(message.computed_at);
  }

  function progress(computedAt) {
    const at = Date.parse(computedAt);
    if (at > newestComputedAt) {
      newestComputedAt = at;
      lastProgressAt = Date.now();
    }
    showBadge();
  }

  // Stale: no computation newer than the last one for a while (workers, beat or the push are down, or this
  // socket left the group). After longer, a new connection joins the group again and brings a snapshot.
  function watch() {
    const now = Date.now();
    if (synced && now - lastProgressAt > RECONNECT_STALE_AFTER_MS && now - syncedAt > RECONNECT_STALE_AFTER_MS) {
      socket.close();
    }
    showBadge();
  }

  function showBadge() {
    let state = "live";
    if (!synced) state = lastSeq === null && failures === 0 ? "connecting" : "reconnecting";
    else if (Date.now() - lastProgressAt > STALE_AFTER_MS) state = "stale";
    const updated = new Date(newestComputedAt);
    const texts = {
      connecting: "Connecting…",
      reconnecting: "Reconnecting…",
      stale: "Stale · last update " + updated.toLocaleTimeString(),
      live: "Live · " + updated.toLocaleTimeString(),
    };
    badge.className = "live-badge " + state;
    badge.querySelector(".live-text").textContent = texts[state];
    badge.title = "Last update " + updated.toLocaleString();
  }

  /* ---- Messages ------------------------------------------------------------------------------------- */

  function say(text, kind) {
    sayAbove(messages, text, kind);
  }

  /* ---- Row menu ------------------------------------------------------------------------------------- */

  const menu = RowMenu(tbody, document.getElementById("row-menu"), "tr[data-bp]", (tr, element) => {
    const code = tr.dataset.bp;
    for (const link of element.querySelectorAll("[data-link]")) link.href = urlFor(link.dataset.link, code);
    const stopped = tr.dataset.status === "stopped";
    for (const button of element.querySelectorAll("[data-action]")) {
      button.hidden = (button.dataset.action === "stop") === stopped;
    }
  });

  /* ---- Stop / Resume callbacks ---------------------------------------------------------------------- */

  const ACTIONS = {
    stop: {
      title: "Stop callbacks",
      question: (name) => "Stop callbacks for " + name + "? Nothing is dispatched until callbacks are resumed.",
      done: (name) => "Callbacks stopped for " + name + ".",
    },
    resume: {
      title: "Resume callbacks",
      question: (name) => "Resume callbacks for " + name + "? Pending callbacks go back to queue as they come due.",
      done: (name) => "Callbacks resumed for " + name + ".",
    },
  };

  const dialog = document.getElementById("confirm-dialog");

  function confirmAction(action, name) {
    return confirmInDialog(dialog, ACTIONS[action], name);
  }

  async function perform(action, tr) {
    const code = tr.dataset.bp;
    const name = tr.querySelector(".bp-name").textContent;
    const button = tr.querySelector(".row-menu-button");
    const confirmed = await confirmAction(action, name);
    button.focus();
    if (!confirmed) return;
    let response;
    try {
      response = await fetch(urlFor(action, code), {
        method: "POST",
        credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRFToken": csrfToken() },
      });
    } catch (error) {
      return say(ACTIONS[action].title + " for " + name + ": the server could not be reached.", "error");
    }
    if (response.ok) return say(ACTIONS[action].done(name), "ok");
    const body = await response.json().catch(() => ({}));
    const reason = body.error || body.detail || response.statusText;
    if (response.status === 403) say(ACTIONS[action].title + " for " + name + " is not allowed: " + reason, "error");
    else say(ACTIONS[action].title + " for " + name + " refused (" + response.status + "): " + reason, "error");
  }

  menu.element.addEventListener("click", (event) => {
    const item = event.target.closest("[data-action]");
    if (!item || !menu.row) return;
    const tr = menu.row;
    menu.close(false);
    perform(item.dataset.action, tr);
  });

  /* ---- Start ---------------------------------------------------------------------------------------- */

  newestComputedAt = Date.parse(config.computedAt);
  connect();
  setInterval(watch, 1000);
})();
