// hookcore console: the executions list follows the server's live feed (server-sent events).
// Rows arrive rendered and escaped by the server; without JavaScript the page is the same, not live.
"use strict";
(function () {
  const table = document.getElementById("executions");
  const url = table && table.dataset.events;
  if (!url || !window.EventSource) return;
  const body = table.tBodies[0];
  const state = document.getElementById("live-state");
  const source = new EventSource(url);
  source.onopen = function () { if (state) state.textContent = "Live: new executions appear as they run."; };
  // Each feed lasts a few seconds and the browser reconnects where it left off; only a refused
  // reconnection (the session expired, say) stops the updates.
  source.onerror = function () {
    if (state && source.readyState === EventSource.CLOSED) state.textContent = "Live updates stopped; reload the page.";
  };
  function bump(status, by) {
    const count = document.getElementById("count-" + status);
    if (count) count.textContent = String(Number(count.textContent) + by);
  }
  source.addEventListener("execution", function (event) {
    const update = JSON.parse(event.data);
    const template = document.createElement("template");
    template.innerHTML = update.row;
    const row = template.content.firstElementChild;
    const old = document.getElementById("x-" + update.id);
    if (old) {
      bump(old.dataset.status, -1);
      old.replaceWith(row);
    } else {
      body.insertBefore(row, body.firstChild);
      const none = document.getElementById("none");
      if (none) none.remove();
    }
    bump(update.status, 1);
    row.classList.add("fresh");
  });
})();
