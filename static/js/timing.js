// The Callback Timing editor: ordered list editors (add, remove, move up/down), "Copy Monday to Tue–Fri",
// and adding a dated exception line. Everything is checked again on the server; without this script the
// forms still work (one blank line per list, one blank exception line).
(function () {
  "use strict";

  function listItem(list) {
    var blank = list.querySelector(".timing-list-item:last-child").cloneNode(true);
    blank.querySelector("input").value = "";
    return blank;
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button");
    if (!button) return;

    if (button.hasAttribute("data-add-item")) {
      var list = button.previousElementSibling;
      var item = listItem(list);
      list.appendChild(item);
      item.querySelector("input").focus();
    } else if (button.hasAttribute("data-remove")) {
      var row = button.closest(".timing-list-item");
      var owner = row.parentNode;
      if (owner.children.length > 1) row.remove();
      else row.querySelector("input").value = "";
    } else if (button.dataset.move) {
      var current = button.closest(".timing-list-item");
      if (button.dataset.move === "up" && current.previousElementSibling) {
        current.parentNode.insertBefore(current, current.previousElementSibling);
      } else if (button.dataset.move === "down" && current.nextElementSibling) {
        current.parentNode.insertBefore(current.nextElementSibling, current);
      }
      button.focus();
    } else if (button.hasAttribute("data-what-if")) {
      // The estimate of the values typed (Attempts Before Failure, Recall Intervals), before saving them.
      var form = button.closest("form");
      var query = new URLSearchParams();
      new FormData(form).forEach(function (value, name) {
        if (name === "attempts_before_failure" || name === "recall_intervals") query.append(name, value);
      });
      var target = form.querySelector("[data-what-if-result]");
      target.textContent = "Estimating…";
      fetch(button.dataset.whatIf + "?" + query.toString(), { credentials: "same-origin" })
        .then(function (response) { return response.text(); })
        .then(function (html) { target.innerHTML = html; })
        .catch(function () { target.textContent = "The estimate could not be fetched; try again."; });
    } else if (button.hasAttribute("data-copy-monday")) {
      var monday = document.getElementById("id_day_0").value;
      for (var day = 1; day <= 4; day++) document.getElementById("id_day_" + day).value = monday;
    } else if (button.hasAttribute("data-add-exception")) {
      var total = document.getElementById("id_form-TOTAL_FORMS");
      var template = document.getElementById("timing-exception-template");
      var html = template.innerHTML.replace(/__prefix__/g, total.value);
      var body = document.querySelector("[data-exception-rows]");
      body.insertAdjacentHTML("beforeend", html);
      total.value = Number(total.value) + 1;
      body.lastElementChild.querySelector("input").focus();
    }
  });
})();
