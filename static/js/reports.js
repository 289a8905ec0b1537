// A report download prepared in the background: poll its status every second, move the progress bar,
// and show the link when the file is ready (or the reason when it failed).
(function () {
  "use strict";
  const box = document.getElementById("report-export");
  if (!box) return;
  const bar = document.getElementById("report-progress");
  const text = document.getElementById("report-progress-text");
  const ready = document.getElementById("report-ready");
  const link = document.getElementById("report-file");
  const failure = document.getElementById("report-error");
  const POLL_MS = 1000;

  function show(status) {
    box.dataset.state = status.state;
    bar.value = status.percent;
    bar.textContent = status.percent + " %";
    text.querySelector("[data-label]").textContent = status.label;
    text.querySelector("[data-done]").textContent = status.done;
    text.querySelector("[data-total]").textContent = status.total;
    text.querySelector("[data-percent]").textContent = status.percent;
    if (status.url) {
      link.href = status.url;
      ready.hidden = false;
    }
    if (status.error) {
      failure.querySelector("[data-error]").textContent = status.error;
      failure.hidden = false;
    }
  }

  function finished(state) {
    return state === "done" || state === "failed";
  }

  async function poll() {
    try {
      const response = await fetch(box.dataset.statusUrl, { headers: { Accept: "application/json" } });
      if (response.ok) {
        const status = await response.json();
        show(status);
        if (finished(status.state)) return;
      }
    } catch (error) {
      // The server is restarting or the network dropped: try again at the next tick.
    }
    setTimeout(poll, POLL_MS);
  }

  if (!finished(box.dataset.state)) setTimeout(poll, POLL_MS);
})();
