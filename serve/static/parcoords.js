// dogrun serve: parallel coordinates of an experiment's trials.
//
// One vertical axis per swept setting, then test accuracy; one line per done
// trial through its values, coloured by its accuracy. Drag along an axis to
// keep only the trials inside that range (several axes combine); click an
// axis to let everything through it again. Below, how many trials are kept
// and the best of them, linked. Text is drawn on the canvas or set as
// textContent: names from the data never become markup.
(function () {
  "use strict";

  var root = document.getElementById("parcoords");
  if (!root) { return; }
  var canvas = root.querySelector("canvas");
  var info = root.querySelector(".pc-info");
  var list = root.querySelector(".pc-list");
  var g = canvas.getContext("2d");
  var M = { top: 46, bottom: 28, left: 70, right: 70 };
  var data = null;
  var brushes = {}; // axis index -> [lo, hi], fractions of the axis from its bottom
  var drag = null;

  function load() {
    return fetch(root.dataset.points, { credentials: "same-origin" })
      .then(function (res) { if (!res.ok) { throw new Error("HTTP " + res.status); } return res.json(); })
      .then(function (d) { data = d; draw(); })
      .catch(function (err) { info.textContent = "The trials could not be read: " + err; });
  }

  // scale maps an axis's value index to a fraction of its height from the bottom.
  function scale(axis) {
    var n = axis.values.length;
    if (axis.numbers && n > 1) {
      var lo = Math.min.apply(null, axis.numbers), hi = Math.max.apply(null, axis.numbers);
      var log = lo > 0 && hi / lo >= 20;
      var f = function (x) { return log ? Math.log(x) : x; };
      var a = f(lo), b = f(hi);
      return function (i) { return b === a ? 0.5 : 0.05 + 0.9 * (f(axis.numbers[i]) - a) / (b - a); };
    }
    return function (i) { return (i + 0.5) / n; };
  }

  function accuracyAxis(trials) {
    var done = trials.filter(function (t) { return t.accuracy !== null; });
    if (!done.length) { return { lo: 0, hi: 1 }; }
    var lo = Math.min.apply(null, done.map(function (t) { return t.accuracy; }));
    var hi = Math.max.apply(null, done.map(function (t) { return t.accuracy; }));
    lo = Math.floor(lo * 20) / 20;
    hi = Math.max(Math.ceil(hi * 20) / 20, lo + 0.05);
    return { lo: lo, hi: hi };
  }

  // colour is x in [0, 1] on a ramp from dark blue (worst) through green to
  // orange (best), which stays apart for the common colour blindnesses.
  var ramp = [[49, 54, 149], [26, 152, 80], [244, 109, 67]];
  function colour(x, alpha) {
    x = Math.max(0, Math.min(1, x)) * (ramp.length - 1);
    var i = Math.min(Math.floor(x), ramp.length - 2), f = x - i;
    var c = ramp[i].map(function (v, k) { return Math.round(v + f * (ramp[i + 1][k] - v)); });
    return "rgba(" + c.join(",") + "," + alpha + ")";
  }

  function geometry() {
    var w = canvas.clientWidth, h = canvas.clientHeight;
    var n = data.axes.length + 1;
    var xs = [];
    for (var i = 0; i < n; i++) { xs.push(M.left + (n === 1 ? 0 : i * (w - M.left - M.right) / (n - 1))); }
    return { w: w, h: h, xs: xs, y: function (f) { return h - M.bottom - f * (h - M.top - M.bottom); } };
  }

  // fractions gives a trial's place on every axis, or null when it lacks one.
  function fractions(t, scales, acc) {
    var out = [];
    for (var i = 0; i < data.axes.length; i++) {
      if (t.values[i] < 0) { return null; }
      out.push(scales[i](t.values[i]));
    }
    out.push(t.accuracy === null ? null : (t.accuracy - acc.lo) / (acc.hi - acc.lo));
    return out;
  }

  function kept(fs) {
    for (var k in brushes) {
      var f = fs[k], b = brushes[k];
      if (f === null || f < b[0] || f > b[1]) { return false; }
    }
    return true;
  }

  function draw() {
    if (!data) { return; }
    var dpr = window.devicePixelRatio || 1;
    canvas.width = Math.round(canvas.clientWidth * dpr);
    canvas.height = Math.round(canvas.clientHeight * dpr);
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    var geo = geometry();
    g.clearRect(0, 0, geo.w, geo.h);
    var scales = data.axes.map(scale);
    var acc = accuracyAxis(data.trials);
    var rows = [], notDone = 0;
    data.trials.forEach(function (t) {
      if (t.accuracy === null) { notDone++; return; }
      var fs = fractions(t, scales, acc);
      if (fs) { rows.push({ t: t, fs: fs, kept: kept(fs) }); }
    });
    rows.sort(function (a, b) { return (a.kept - b.kept) || (a.t.accuracy - b.t.accuracy); });
    // Many lines are drawn fainter, so that where they crowd still shows.
    var alpha = rows.length < 50 ? 0.85 : rows.length < 500 ? 0.5 : 0.25;
    g.lineWidth = rows.length < 50 ? 1.6 : 1.1;
    rows.forEach(function (r) {
      g.strokeStyle = r.kept ? colour(r.fs[r.fs.length - 1], alpha) : "rgba(190,190,190,0.35)";
      g.beginPath();
      r.fs.forEach(function (f, i) { if (i === 0) { g.moveTo(geo.xs[i], geo.y(f)); } else { g.lineTo(geo.xs[i], geo.y(f)); } });
      g.stroke();
    });
    drawAxes(geo, scales, acc);
    report(rows, notDone);
  }

  function drawAxes(geo, scales, acc) {
    var n = geo.xs.length, room = n > 1 ? (geo.xs[1] - geo.xs[0]) - 8 : 200;
    g.font = "12px system-ui, sans-serif";
    g.textBaseline = "middle";
    for (var i = 0; i < n; i++) {
      var x = geo.xs[i];
      g.strokeStyle = "#333";
      g.lineWidth = 1;
      g.beginPath(); g.moveTo(x, geo.y(0)); g.lineTo(x, geo.y(1)); g.stroke();
      var b = brushes[i];
      if (b) {
        g.fillStyle = "rgba(30,120,220,0.18)";
        g.fillRect(x - 7, geo.y(b[1]), 14, geo.y(b[0]) - geo.y(b[1]));
        g.strokeStyle = "rgba(30,120,220,0.8)";
        g.strokeRect(x - 7, geo.y(b[1]), 14, geo.y(b[0]) - geo.y(b[1]));
      }
      var title = i < n - 1 ? data.axes[i].path : "test accuracy";
      g.fillStyle = "#222";
      g.textAlign = "center";
      g.font = "bold 12px system-ui, sans-serif";
      g.fillText(fit(title, room), x, M.top - 26);
      g.font = "12px system-ui, sans-serif";
      g.textAlign = i === n - 1 ? "left" : "right";
      var dx = i === n - 1 ? 6 : -6;
      if (i < n - 1) {
        var axis = data.axes[i], every = Math.ceil(axis.values.length / 12);
        axis.values.forEach(function (v, k) {
          if (k % every === 0 || k === axis.values.length - 1) { g.fillText(fit(v, M.left - 10), x + dx, geo.y(scales[i](k))); }
        });
      } else {
        for (var k = 0; k <= 4; k++) {
          var f = k / 4;
          g.fillText((acc.lo + f * (acc.hi - acc.lo)).toFixed(2), x + dx, geo.y(f));
        }
      }
    }
  }

  // fit shortens text to about px pixels wide.
  function fit(text, px) {
    if (g.measureText(text).width <= px) { return text; }
    while (text.length > 1 && g.measureText(text + "…").width > px) { text = text.slice(0, -1); }
    return text + "…";
  }

  function report(rows, notDone) {
    var keptRows = rows.filter(function (r) { return r.kept; });
    var text = keptRows.length + " of " + rows.length + " done trials";
    text += Object.keys(brushes).length ? " in the chosen ranges" : "";
    if (notDone) { text += " (" + notDone + " more not done yet)"; }
    info.textContent = text;
    info.dataset.kept = String(keptRows.length);
    info.dataset.done = String(rows.length);
    var best = keptRows.slice().sort(function (a, b) { return b.t.accuracy - a.t.accuracy; }).slice(0, 10);
    var items = best.map(function (r) {
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.href = "/trial?id=" + encodeURIComponent(r.t.hash);
      a.textContent = "trial " + r.t.n;
      li.appendChild(a);
      var settings = data.axes.map(function (ax, i) { return ax.path + "=" + ax.values[r.t.values[i]]; });
      settings.push("seed=" + r.t.seed);
      li.appendChild(document.createTextNode(": " + r.t.accuracy.toFixed(3) + " (" + settings.join(", ") + ")"));
      return li;
    });
    list.replaceChildren.apply(list, items);
  }

  function axisAt(x) {
    var geo = geometry(), best = -1, dist = 16;
    geo.xs.forEach(function (ax, i) { if (Math.abs(ax - x) < dist) { best = i; dist = Math.abs(ax - x); } });
    return best;
  }

  function fractionAt(y) {
    var geo = geometry();
    return Math.max(0, Math.min(1, (geo.h - M.bottom - y) / (geo.h - M.top - M.bottom)));
  }

  canvas.addEventListener("pointerdown", function (ev) {
    if (!data) { return; }
    var r = canvas.getBoundingClientRect();
    var axis = axisAt(ev.clientX - r.left);
    if (axis < 0) { return; }
    var f = fractionAt(ev.clientY - r.top);
    drag = { axis: axis, from: f, to: f };
    canvas.setPointerCapture(ev.pointerId);
  });
  canvas.addEventListener("pointermove", function (ev) {
    if (!drag) { return; }
    var r = canvas.getBoundingClientRect();
    drag.to = fractionAt(ev.clientY - r.top);
    if (Math.abs(drag.to - drag.from) > 0.01) {
      brushes[drag.axis] = [Math.min(drag.from, drag.to), Math.max(drag.from, drag.to)];
      draw();
    }
  });
  canvas.addEventListener("pointerup", function () {
    if (!drag) { return; }
    if (Math.abs(drag.to - drag.from) <= 0.01) { delete brushes[drag.axis]; }
    drag = null;
    draw();
  });

  document.addEventListener("dogrun:change", function (ev) {
    if (ev.detail.indexOf("results") >= 0) { load(); }
  });
  window.addEventListener("resize", draw);
  load();
})();
