/* jijiao, the teacher's pages: show the chosen file names in Bootstrap's file box (the page works
   without this script; the box then keeps its hint). */
(function () {
  "use strict";
  function onReady(fn) {
    if (document.readyState !== "loading") { fn(); } else { document.addEventListener("DOMContentLoaded", fn); }
  }
  onReady(function () {
    document.querySelectorAll(".custom-file-input").forEach(function (input) {
      input.addEventListener("change", function () {
        var label = input.parentNode.querySelector(".custom-file-label");
        if (!label) { return; }
        var files = input.files || [];
        if (files.length === 0) {
          label.textContent = label.getAttribute("data-empty") || "";
        } else if (files.length === 1) {
          label.textContent = files[0].name;
        } else {
          label.textContent = (label.getAttribute("data-many") || "{n}").replace("{n}", String(files.length));
        }
      });
    });
  });
}());
