/* jijiao, provincial IT pages: the organisation tree loads a node's children only when it is
   opened (a province has thousands of schools), and the plugin page's tabs follow the URL hash.
   Text from the server is set with textContent, never as markup. */
(function () {
  "use strict";
  function onReady(fn) {
    if (document.readyState !== "loading") { fn(); } else { document.addEventListener("DOMContentLoaded", fn); }
  }

  function nodeItem(child, labels) {
    var li = document.createElement("li");
    li.className = "jj-tree-node";
    li.setAttribute("data-node", child.id);
    if (child.has_children) {
      var b = document.createElement("button");
      b.type = "button";
      b.className = "btn btn-sm btn-link p-0 jj-toggle";
      b.setAttribute("aria-expanded", "false");
      b.setAttribute("data-children-url", child.children_url);
      b.textContent = "▸";
      li.appendChild(b);
    } else {
      var leaf = document.createElement("span");
      leaf.className = "jj-leaf";
      leaf.textContent = "·";
      li.appendChild(leaf);
    }
    li.appendChild(document.createTextNode(" "));
    var a = document.createElement("a");
    a.href = child.url;
    a.textContent = child.name;
    li.appendChild(a);
    var meta = document.createElement("span");
    meta.className = "small text-muted";
    meta.textContent = " " + child.kind_label + " · #" + child.id;
    li.appendChild(meta);
    if (child.jurisdiction) {
      var badge = document.createElement("span");
      badge.className = "badge badge-info ml-1";
      badge.textContent = labels.plugin + " " + child.jurisdiction;
      li.appendChild(badge);
    }
    return li;
  }

  function load(list, url, offset) {
    var target = url + (url.indexOf("?") < 0 ? "?" : "&") + "offset=" + (offset || 0);
    return fetch(target, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (data) {
        var labels = {plugin: data.plugin_label};
        data.children.forEach(function (child) { list.appendChild(nodeItem(child, labels)); });
        if (data.more) {
          var li = document.createElement("li");
          var more = document.createElement("button");
          more.type = "button";
          more.className = "btn btn-sm btn-link p-0 jj-more";
          more.textContent = data.more_label;
          more.addEventListener("click", function () {
            li.remove();
            load(list, url, data.next_offset);
          });
          li.appendChild(more);
          list.appendChild(li);
        }
      });
  }

  function toggle(button) {
    var li = button.closest("li");
    var list = li.querySelector(":scope > ul");
    if (button.getAttribute("aria-expanded") === "true") {
      if (list) { list.hidden = true; }
      button.setAttribute("aria-expanded", "false");
      button.textContent = "▸";
      return;
    }
    button.setAttribute("aria-expanded", "true");
    button.textContent = "▾";
    if (list) { list.hidden = false; return; }
    list = document.createElement("ul");
    list.className = "jj-tree list-unstyled";
    li.appendChild(list);
    load(list, button.getAttribute("data-children-url"), 0).catch(function () {
      button.setAttribute("aria-expanded", "false");
      button.textContent = "▸";
      list.remove();
    });
  }

  onReady(function () {
    document.addEventListener("click", function (ev) {
      var button = ev.target.closest ? ev.target.closest(".jj-toggle") : null;
      if (button) { ev.preventDefault(); toggle(button); }
    });
    // Plugin page: open the tab named in the URL hash, and keep the hash when a tab is chosen.
    var tabs = document.getElementById("plugin-tabs");
    if (tabs && window.jQuery) {
      if (location.hash) {
        var link = tabs.querySelector('a[href="' + location.hash.replace(/"/g, "") + '"]');
        if (link) { window.jQuery(link).tab("show"); }
      }
      window.jQuery(tabs).on("shown.bs.tab", "a", function (e) {
        if (history.replaceState) { history.replaceState(null, "", e.target.getAttribute("href")); }
      });
    }
  });
})();
