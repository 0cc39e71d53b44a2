// dogrun serve: pages that update in place.
//
// An element with data-part="URL" is a part of the page the server renders
// on its own; data-on lists which changes refresh it ("results" when a trial
// is claimed, fails or finishes, "progress" when a running trial reports an
// epoch); data-lazy ones are fetched once the page has loaded. The server's
// event stream (data-events on <body>) says when either version changes.
// Fetched HTML is parsed inertly (DOMParser runs no script) and nothing is
// ever built from strings here: names from the data reach the page only as
// the server's escaped HTML or as text.
(function () {
  "use strict";

  var body = document.body;
  var live = document.getElementById("live");

  function parts() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-part]"));
  }

  function say(state, text) {
    if (!live) { return; }
    live.dataset.state = state;
    live.textContent = text;
  }

  // refresh replaces a part with the server's current rendering of it,
  // keeping ticked boxes and the chosen options of its forms.
  function refresh(el) {
    return fetch(el.dataset.part, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (res) {
        if (!res.ok) { throw new Error("HTTP " + res.status); }
        return res.text();
      })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var ticked = {};
        el.querySelectorAll("input[type=checkbox]").forEach(function (i) {
          if (i.checked) { ticked[i.name + "\u0000" + i.value] = true; }
        });
        var nodes = Array.prototype.map.call(doc.body.childNodes, function (n) { return document.importNode(n, true); });
        el.replaceChildren.apply(el, nodes);
        el.querySelectorAll("input[type=checkbox]").forEach(function (i) {
          if (ticked[i.name + "\u0000" + i.value]) { i.checked = true; }
        });
        el.dataset.refreshed = String((Number(el.dataset.refreshed) || 0) + 1);
      })
      .catch(function (err) {
        el.dataset.failed = String(err);
      });
  }

  parts().forEach(function (el) {
    if ("lazy" in el.dataset) { refresh(el); }
  });

  // The reference values offered are those of the chosen axis.
  var by = document.getElementById("by"), ref = document.getElementById("ref");
  if (by && ref) {
    var sync = function () {
      var first = null, kept = false;
      Array.prototype.forEach.call(ref.options, function (o) {
        var mine = o.dataset.axis === by.value;
        o.hidden = !mine;
        o.disabled = !mine;
        if (mine && !first) { first = o; }
        if (mine && o.selected) { kept = true; }
      });
      if (!kept && first) { first.selected = true; }
    };
    by.addEventListener("change", sync);
    sync();
  }

  var src = body.dataset.events;
  if (!src || !window.EventSource) { return; }
  var last = { results: body.dataset.results, progress: body.dataset.progress };
  var updates = 0;
  var stream = new EventSource(src);
  stream.addEventListener("versions", function (ev) {
    var v = JSON.parse(ev.data);
    var changed = [];
    if (v.results !== last.results) { changed.push("results"); }
    if (v.progress !== last.progress) { changed.push("progress"); }
    last = v;
    var stale = parts().filter(function (el) {
      var on = (el.dataset.on || "").split(/\s+/);
      return changed.some(function (k) { return on.indexOf(k) >= 0; });
    });
    Promise.all(stale.map(refresh)).then(function () {
      if (changed.length) {
        updates++;
        document.dispatchEvent(new CustomEvent("dogrun:change", { detail: changed }));
      }
      body.dataset.updates = String(updates);
      say("live", "live · " + new Date().toLocaleTimeString());
    });
  });
  stream.addEventListener("error", function () { say("down", "reconnecting…"); });
})();
