/*
 * A business process page, live: the Callback Performance card's numbers follow the monitor's pushes
 * (/ws/monitor/, protocol in monitoring/live.py). Reconnects by itself; a gap in the sequence asks for a
 * snapshot. (The Callback Search tab has its own list socket: static/js/callback_search.js.)
 */
(function () {
  "use strict";

  const root = document.querySelector("[data-bp][data-live]");
  if (!root) return;
  const code = root.dataset.bp;
  const asOf = document.getElementById("as-of");
  let socket = null;
  let seq = null;
  let backoff = 500;

  function patch(row) {
    for (const [key, text] of Object.entries(row.cells)) {
      const target = root.querySelector('[data-col="' + key + '"] [data-value]');
      if (!target || target.textContent === text) continue;
      target.textContent = text;
      target.classList.remove("flash");
      void target.offsetWidth;
      target.classList.add("flash");
      if (key === "status") target.className = "badge status-" + text.toLowerCase().split(/\s+/).join("-") + " flash";
    }
    for (const key of ["to_be_processed", "pct_failed"]) {
      const cell = root.querySelector('[data-col="' + key + '"]');
      if (cell) cell.classList.toggle("over", row.over[key]);
    }
  }

  function apply(row) {
    patch(row);
    if (asOf) asOf.textContent = new Date().toLocaleTimeString();
  }

  function receive(message) {
    if (message.type === "snapshot") {
      seq = message.seq;
      const row = message.rows.find((r) => r.code === code);
      if (row) apply(row);
    } else if (message.type === "rows") {
      if (seq !== null && message.seq <= seq) return; // already in the snapshot
      if (seq === null || message.seq !== seq + 1) return socket.send(JSON.stringify({ type: "resync" }));
      seq = message.seq;
      const row = message.rows.find((r) => r.code === code);
      if (row) apply(row);
    } else if (message.type === "heartbeat" && seq !== null && message.seq !== seq) {
      socket.send(JSON.stringify({ type: "resync" }));
    }
  }

  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + window.location.host + "/ws/monitor/");
    socket.onopen = () => { backoff = 500; };
    socket.onmessage = (event) => receive(JSON.parse(event.data));
    socket.onclose = () => {
      seq = null;
      setTimeout(connect, backoff + Math.random() * backoff);
      backoff = Math.min(backoff * 2, 15000);
    };
  }

  connect();
})();
