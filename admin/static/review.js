/* jijiao review pages: select-all in the queue, the reason required for a return, and a job page
   that reloads once its job has finished (to show the per-claim result). No inline script (CSP). */
(function () {
  "use strict";
  function onReady(fn) {
    if (document.readyState !== "loading") { fn(); } else { document.addEventListener("DOMContentLoaded", fn); }
  }
  onReady(function () {
    var all = document.getElementById("jj-check-all");
    if (all) {
      all.addEventListener("change", function () {
        document.querySelectorAll("input.jj-check").forEach(function (box) { box.checked = all.checked; });
      });
    }
    var action = document.getElementById("b-action");
    var reason = document.getElementById("b-reason");
    function syncReason() {
      if (action && reason) { reason.required = action.value === "return"; }
    }
    if (action) { action.addEventListener("change", syncReason); syncReason(); }
    // A job still running: reload when it is done (jijiao.js polls and honours data-reload).
    document.querySelectorAll("[data-job-url]").forEach(function (box) {
      var state = box.getAttribute("data-job-state");
      if (state !== "done" && state !== "failed" && document.getElementById("jj-job-result")) {
        box.setAttribute("data-reload", "1");
      }
    });
  });
})();
