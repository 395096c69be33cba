/* jijiao: the page behaviour that Flask-Admin writes as inline handlers, which the Content
   Security Policy (no inline script) blocks: bound here from data in the markup instead. */
(function () {
  "use strict";
  function onReady(fn) {
    if (document.readyState !== "loading") { fn(); } else { document.addEventListener("DOMContentLoaded", fn); }
  }
  onReady(function () {
    // List actions: <a onclick="return modelActions.execute('approve');">
    document.querySelectorAll("a[onclick*='modelActions.execute']").forEach(function (a) {
      var m = /execute\('([^']+)'\)/.exec(a.getAttribute("onclick"));
      a.removeAttribute("onclick");
      if (!m) { return; }
      a.addEventListener("click", function (ev) {
        ev.preventDefault();
        if (window.modelActions) { window.modelActions.execute(m[1]); }
      });
    });
    // Delete buttons: <button onclick="return faHelpers.safeConfirm('…');">
    document.querySelectorAll("button[onclick*='safeConfirm'], button[onclick*='confirm(']").forEach(function (b) {
      var m = /Confirm\('((?:[^'\\]|\\.)*)'\)|confirm\('((?:[^'\\]|\\.)*)'\)/.exec(b.getAttribute("onclick"));
      var text = m ? (m[1] || m[2] || "").replace(/\\'/g, "'") : "确定吗？";
      b.removeAttribute("onclick");
      b.addEventListener("click", function (ev) { if (!window.confirm(text)) { ev.preventDefault(); } });
    });
    // Filter menu links: onclick="return false;"
    document.querySelectorAll("a[onclick='return false;']").forEach(function (a) {
      a.removeAttribute("onclick");
      a.addEventListener("click", function (ev) { ev.preventDefault(); });
    });
    // Our own confirmations: <button data-confirm="…">
    document.querySelectorAll("[data-confirm]").forEach(function (el) {
      el.addEventListener("click", function (ev) {
        if (!window.confirm(el.getAttribute("data-confirm"))) { ev.preventDefault(); }
      });
    });
    // Progress bars of background jobs: <div data-job-url="/jobs/5.json">
    document.querySelectorAll("[data-job-url]").forEach(function (box) {
      var url = box.getAttribute("data-job-url");
      var bar = box.querySelector(".progress-bar");
      var label = box.querySelector("[data-job-label]");
      function poll() {
        fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
          .then(function (r) { return r.json(); })
          .then(function (job) {
            var pct = job.total ? Math.floor(100 * job.done / job.total) : (job.state === "done" ? 100 : 0);
            if (bar) { bar.style.width = pct + "%"; bar.setAttribute("aria-valuenow", pct); bar.textContent = pct + "%"; }
            if (label) { label.textContent = job.label || ""; }
            box.setAttribute("data-job-state", job.state);
            if (job.state === "done" || job.state === "failed") {
              if (box.hasAttribute("data-reload")) { window.location.reload(); }
              return;
            }
            window.setTimeout(poll, 1000);
          })
          .catch(function () { window.setTimeout(poll, 3000); });
      }
      poll();
    });
  });
})();
