/* Draw every <div class="qi-vl" data-spec="..."> as an SVG chart with Vega-Embed.
 *
 * The kernel sends Vega-Lite specs inside ipywidgets HTML (which runs no script); this file,
 * loaded once by the page from the Voilà server, watches the page and draws each new chart
 * div with the vl-convert bundle (static/vega-bundle.js, also served by Voilà: no CDN).
 * A drawn div gets data-drawn="yes" (and data-drawn-at, a performance.now() time stamp).
 * Charts the server drew already arrive as SVG with data-drawn="yes": the bundle (0.9 MB of
 * script to parse) is loaded when a chart needs it, or once the page has finished loading,
 * so it is ready for the first change a visitor makes. A chart is drawn when it is shown (a
 * chart in a closed tab waits until the tab is opened), so hidden charts cost the first
 * render nothing.
 */
(function () {
  "use strict";
  var scheduled = false;
  var me = document.currentScript;
  var bundleUrl = me ? me.getAttribute("data-vega-bundle") : null;
  var bundleRequested = false;

  function loadBundle() {
    if (bundleRequested || !bundleUrl || typeof window.vegaEmbed === "function") { return; }
    bundleRequested = true;
    var s = document.createElement("script");
    s.src = bundleUrl;
    s.onload = flush;
    document.head.appendChild(s);
  }

  function fail(el, err) {
    el.setAttribute("data-drawn", "failed");
    el.textContent = "This chart could not be drawn here; its reading below still applies.";
    el.classList.add("qi-vl-failed");
    if (window.console) { console.error("qiwidgets chart:", err); }
  }

  function draw(el) {
    var spec;
    el.setAttribute("data-drawn", "pending");
    try {
      spec = JSON.parse(el.getAttribute("data-spec"));
    } catch (err) {
      fail(el, err);
      return;
    }
    el.textContent = "";
    window.vegaEmbed(el, spec, { renderer: "svg", actions: false, mode: "vega-lite" })
      .then(function () {
        el.setAttribute("data-drawn", "yes");
        el.setAttribute("data-drawn-at", String(performance.now()));
      })
      .catch(function (err) { fail(el, err); });
  }

  var shown = [];  // charts shown in the page (not in a closed tab) waiting to be drawn

  function flush() {
    if (!shown.length) { return; }
    if (typeof window.vegaEmbed !== "function") {
      loadBundle();  // flushes again once loaded
      return;
    }
    var els = shown;
    shown = [];
    for (var i = 0; i < els.length; i++) {
      if (!els[i].hasAttribute("data-drawn")) { draw(els[i]); }
    }
  }

  function drawAll() {
    scheduled = false;
    var els = document.querySelectorAll(".qi-vl[data-spec]:not([data-drawn])");
    for (var i = 0; i < els.length; i++) {
      // displayed, wherever it is scrolled to; a closed tab's content is not displayed
      if (els[i].getClientRects().length && shown.indexOf(els[i]) < 0) { shown.push(els[i]); }
    }
    flush();
  }

  function schedule(delay) {
    if (scheduled) { return; }
    scheduled = true;
    setTimeout(drawAll, delay || 0);
  }

  // new content, and tabs opening (their class or style changes)
  new MutationObserver(function () { schedule(0); }).observe(document.documentElement, {
    childList: true, subtree: true, attributes: true, attributeFilter: ["class", "style"]
  });
  document.addEventListener("DOMContentLoaded", function () { schedule(0); });
  window.addEventListener("load", function () { setTimeout(loadBundle, 1000); });
})();

/* When the page loses its kernel, say so in words and keep what the visitor typed.
 *
 * A dashboard page lives as long as its kernel: if the kernel dies (killed, out of memory,
 * culled) or the server goes away, the page's widgets are orphans — Voilà only shows a
 * broken-link icon on each, and a save clicked a moment before may or may not have reached
 * the store. This script
 *   - watches the page's kernel connection (window.jupyterapp.widgetManager.kernel: the widget
 *     manager of Voilà 0.5 and its @jupyterlab/services KernelConnection) and, once the kernel
 *     is gone (status restarting / autorestarting / dead, or the connection closed for good),
 *     shows a banner in words with everything typed since the last confirmed save, and a
 *     reload button;
 *   - copies what the visitor types (text boxes, dates, tick boxes, radio buttons, and the
 *     choices marked .qi-keep) into this browser's localStorage as they type, per page, team
 *     and field — never sent anywhere — and forgets a panel's copy once the kernel confirms a
 *     save in that panel (a status line marked data-qi-saved, or any "ok" status line there);
 *   - after a reload, offers the kept text back ("Put it back" / "Discard"): it opens the tab,
 *     chooses the record that was being edited (.qi-record-pick) and fills the fields as if
 *     typed, so the visitor saves again. The store does not add the same record twice, so
 *     saving again after a save that had in fact reached the store is safe.
 * Everything typed is put into the page as text (textContent, value), never as HTML.
 */
(function () {
  "use strict";
  var PREFIX = "qiwidgets.unsaved.v1:";
  var MAX_AGE_MS = 14 * 24 * 3600 * 1000;  // a copy older than two weeks is dropped unseen
  var GONE = { restarting: true, autorestarting: true, dead: true };
  var INTERRUPTED_AFTER_MS = 10000;  // "trying to reconnect" only if it takes this long
  var FIELD_WAIT_MS = 120000;  // how long "Put it back" waits for a tab's fields to be drawn
  var SAVE_BUTTON = /^\s*(Save|Add|Record)\b/;
  var ROOT = "#rendered_cells";

  var memory = {};  // storage key -> record, also when localStorage is unavailable
  var lost = false;
  var leaving = false;
  var pending = null;  // {panel, label}: a save clicked and not yet answered
  var offered = {};  // storage keys offered back in this page view
  var view = Math.random().toString(36).slice(2);  // this page view: its own copy is not offered

  // --- storage ------------------------------------------------------------------------------

  function teamName() {
    var el = document.querySelector(".qi-team-name");
    return el ? el.textContent.trim() : "";
  }

  function storageKey(team) {
    return PREFIX + location.pathname + "|" + (team === undefined ? teamName() : team);
  }

  function read(key) {
    var record = memory[key];
    try {
      var raw = window.localStorage.getItem(key);
      if (raw) { record = JSON.parse(raw); }
    } catch (err) { /* storage unavailable or damaged: the copy in memory stands */ }
    if (!record || typeof record !== "object" || typeof record.fields !== "object") {
      record = { fields: {} };
    }
    return record;
  }

  function write(key, record) {
    var empty = !Object.keys(record.fields).length;
    if (empty) { delete memory[key]; } else { memory[key] = record; }
    try {
      if (empty) { window.localStorage.removeItem(key); }
      else { window.localStorage.setItem(key, JSON.stringify(record)); }
    } catch (err) { /* full or forbidden: the banner still shows the copy in memory */ }
  }

  function dropOld() {
    try {
      var now = Date.now();
      for (var i = window.localStorage.length - 1; i >= 0; i--) {
        var key = window.localStorage.key(i);
        if (!key || key.indexOf(PREFIX) !== 0) { continue; }
        var record = JSON.parse(window.localStorage.getItem(key) || "{}");
        if (!record.at || now - record.at > MAX_AGE_MS) { window.localStorage.removeItem(key); }
      }
    } catch (err) { /* nothing to tidy */ }
  }

  // --- the fields of the page -----------------------------------------------------------------

  function text(el) { return el ? el.textContent.replace(/\s+/g, " ").trim() : ""; }

  // The control a changed element belongs to: {el, kind} or null.
  function controlOf(target) {
    if (!target || !target.closest || !target.closest(ROOT)) { return null; }
    if (target.closest(".qi-record-pick")) { return null; }
    if (target.matches("textarea, input[type=text]")) { return { el: target, kind: "text" }; }
    if (target.matches("input[type=date]")) { return { el: target, kind: "date" }; }
    if (target.matches("input[type=checkbox]")) { return { el: target, kind: "check" }; }
    if (target.matches("input[type=radio]")) {
      var group = target.closest(".widget-radio");
      return group ? { el: group, kind: "radio" } : null;
    }
    if (target.matches(".qi-keep select")) { return { el: target, kind: "select" }; }
    var toggles = target.closest(".qi-keep.widget-toggle-buttons");
    if (toggles) { return { el: toggles, kind: "toggle" }; }
    return null;
  }

  function allControls(scope) {
    var out = [];
    var els = (scope || document).querySelectorAll(
      ROOT + " textarea, " + ROOT + " input[type=text], " + ROOT + " input[type=date], " +
      ROOT + " input[type=checkbox], " + ROOT + " .widget-radio, " + ROOT + " .qi-keep select, " +
      ROOT + " .qi-keep.widget-toggle-buttons");
    for (var i = 0; i < els.length; i++) {
      var el = els[i];
      if (el.closest(".qi-record-pick")) { continue; }
      var c = el.matches(".widget-radio") ? { el: el, kind: "radio" } :
        el.matches(".widget-toggle-buttons") ? { el: el, kind: "toggle" } : controlOf(el);
      if (c) { out.push(c); }
    }
    return out;
  }

  function tabOf(el) {
    var pane = el.closest(".widget-tab-contents > *");
    if (!pane) { return ""; }
    var tabs = pane.parentElement.closest(".widget-tab");
    var index = Array.prototype.indexOf.call(pane.parentElement.children, pane);
    var labels = tabs ? tabs.querySelectorAll(".lm-TabBar-tab .lm-TabBar-tabLabel") : [];
    return labels[index] ? text(labels[index]) : "";
  }

  function labelOf(c) {
    var widget = c.el.closest(".widget-inline-hbox, .widget-radio, .widget-toggle-buttons") ||
      c.el.parentElement;
    var label = widget ? widget.querySelector(":scope > label.widget-label") : null;
    var words = text(label).replace(/\u200b/g, "");
    if (!words && c.kind === "check") { words = text(widget.querySelector("span")); }
    if (!words && c.el.placeholder) { words = c.el.placeholder.replace(/\u200b/g, "").trim(); }
    return words;
  }

  function panelOf(el) { return el.closest(".widget-vbox") || el.closest(ROOT); }

  function pickOf(el) {
    var panel = panelOf(el);
    var pick = panel ? panel.querySelector(".qi-record-pick select") : null;
    return pick ? pick.value : null;
  }

  // Each control's place: its kind, tab and label, and its rank among controls with the same.
  function describe(controls) {
    var seen = {};
    return controls.map(function (c) {
      var d = { kind: c.kind, tab: tabOf(c.el), label: labelOf(c) };
      var base = d.kind + "|" + d.tab + "|" + d.label;
      d.n = seen[base] = (seen[base] || 0) + 1;
      d.key = base + "|" + d.n;
      d.el = c.el;
      return d;
    });
  }

  function placeOf(el) {
    var all = describe(allControls());
    for (var i = 0; i < all.length; i++) { if (all[i].el === el) { return all[i]; } }
    return null;
  }

  function valueOf(c) {
    var el = c.el;
    switch (c.kind) {
      case "check": return !!el.checked;
      case "radio": {
        var on = el.querySelector("input[type=radio]:checked");
        return on ? text(on.closest("label")) : null;
      }
      case "select":
        if (el.multiple) {
          return Array.prototype.filter.call(el.options, function (o) { return o.selected; })
            .map(function (o) { return o.value; });
        }
        return el.value;
      case "toggle": return text(el.querySelector("button.mod-active"));
      default: return el.value;
    }
  }

  function fire(el, type) { el.dispatchEvent(new Event(type, { bubbles: true })); }

  function setValue(c, value) {
    var el = c.el;
    switch (c.kind) {
      case "check":
        if (!!el.checked !== !!value) { el.click(); }
        return true;
      case "radio": {
        var labels = el.querySelectorAll("label");
        for (var i = 0; i < labels.length; i++) {
          var input = labels[i].querySelector("input[type=radio]");
          if (input && text(labels[i]) === value) {
            if (!input.checked) { input.click(); }
            return true;
          }
        }
        return false;
      }
      case "select":
        if (el.multiple) {
          var wanted = Array.isArray(value) ? value : [];
          Array.prototype.forEach.call(el.options, function (o) {
            o.selected = wanted.indexOf(o.value) >= 0;
          });
        } else {
          if (!Array.prototype.some.call(el.options, function (o) { return o.value === value; })) {
            return false;
          }
          el.value = value;
        }
        fire(el, "change");
        return true;
      case "toggle": {
        var buttons = el.querySelectorAll("button");
        for (var j = 0; j < buttons.length; j++) {
          if (text(buttons[j]) === value) {
            if (!buttons[j].classList.contains("mod-active")) { buttons[j].click(); }
            return true;
          }
        }
        return false;
      }
      default:
        el.value = value;
        fire(el, "input");
        fire(el, "change");
        return true;
    }
  }

  // --- keeping what is typed ------------------------------------------------------------------

  function keep(target, value) {
    var c = controlOf(target);
    if (!c) { return; }
    var place = placeOf(c.el);
    if (!place) { return; }
    var key = storageKey();
    var record = read(key);
    var v = value === undefined ? valueOf(c) : value;
    if (c.kind === "text" && v === "") {
      delete record.fields[place.key];
    } else {
      record.fields[place.key] = { kind: place.kind, tab: place.tab, label: place.label,
                                   n: place.n, value: v, pick: pickOf(c.el) };
    }
    record.at = Date.now();
    record.team = teamName();
    record.view = view;
    write(key, record);
    if (lost) { showLost(); }
  }

  function forgetPanel(panel) {
    var key = storageKey();
    var record = read(key);
    if (record.view !== view) { return; }  // a copy from before a reload waits for its offer
    var changed = false;
    describe(allControls()).forEach(function (d) {
      if (panel.contains(d.el) && record.fields[d.key]) {
        delete record.fields[d.key];
        changed = true;
      }
    });
    if (changed) { write(key, record); }
  }

  document.addEventListener("input", function (e) { keep(e.target); }, true);
  document.addEventListener("change", function (e) { keep(e.target); }, true);
  document.addEventListener("click", function (e) {
    var t = e.target;
    if (!t || !t.closest) { return; }
    var toggle = t.closest(".qi-keep.widget-toggle-buttons button");
    if (toggle) { keep(toggle, text(toggle)); }
    var button = t.closest(ROOT + " button");
    if (button && SAVE_BUTTON.test(text(button)) && !lost) {
      pending = { panel: panelOf(button), label: text(button) };
    }
  }, true);

  // A status line in a panel answers a pending save; a confirmed save forgets the panel's copy.
  function onStatus(el) {
    var panel = panelOf(el);
    if (!panel) { return; }
    if (pending && (pending.panel === panel || pending.panel.contains(panel) ||
                    panel.contains(pending.panel))) {
      pending = null;
    }
    if (el.matches("[data-qi-saved], .qi-status-ok")) { forgetPanel(panel); }
  }

  new MutationObserver(function (records) {
    for (var i = 0; i < records.length; i++) {
      var added = records[i].addedNodes;
      for (var j = 0; j < added.length; j++) {
        var node = added[j];
        if (node.nodeType !== 1) { continue; }
        var found = node.matches(".qi-status") ? [node] : node.querySelectorAll(".qi-status");
        for (var k = 0; k < found.length; k++) { onStatus(found[k]); }
      }
    }
    if (!lost) { offerIfKept(); }
  }).observe(document.documentElement, { childList: true, subtree: true });

  // --- banners --------------------------------------------------------------------------------

  function el(tag, cls, words) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (words) { e.textContent = words; }
    return e;
  }

  function banner(id, role) {
    var b = document.getElementById(id);
    if (!b) {
      b = el("div", "qi-connection");
      b.id = id;
      b.setAttribute("role", role);
      document.body.insertBefore(b, document.body.firstChild);
    }
    b.textContent = "";
    return b;
  }

  function place(field) {
    return (field.tab ? field.tab + " › " : "") + (field.label || "a text box");
  }

  function keptTexts(record) {
    return Object.keys(record.fields).map(function (k) { return record.fields[k]; })
      .filter(function (f) { return f.kind === "text" && f.value; });
  }

  function listKept(parent, texts) {
    var list = el("div", "qi-kept");
    texts.forEach(function (f) {
      var item = el("div", "qi-kept-item");
      item.appendChild(el("div", "qi-kept-label", place(f)));
      var box = el("textarea", "qi-kept-text");
      box.readOnly = true;
      box.value = f.value;
      box.rows = Math.min(8, Math.max(2, String(f.value).split("\n").length + 1));
      box.setAttribute("aria-label", "Kept text: " + place(f));
      item.appendChild(box);
      list.appendChild(item);
    });
    parent.appendChild(list);
  }

  function showLost() {
    var record = read(storageKey());
    if (!record.lost || (pending && !record.unconfirmed)) {
      record.lost = true;
      if (pending) { record.unconfirmed = pending.label; }
      if (Object.keys(record.fields).length) { write(storageKey(), record); }
    }
    var texts = keptTexts(record);
    var b = banner("qi-connection-lost", "alert");
    b.className = "qi-connection qi-connection-lost";
    b.appendChild(el("p", "qi-connection-title", "The connection to the dashboard was lost."));
    if (texts.length) {
      b.appendChild(el("p", null, "What you typed is kept below and in this browser; " +
        "reload the page to save it."));
    } else {
      b.appendChild(el("p", null, "Everything you saved before is stored. Reload the page to " +
        "carry on."));
    }
    if (record.unconfirmed || pending) {
      b.appendChild(el("p", "qi-unconfirmed", "Your last save (“" +
        (record.unconfirmed || pending.label) + "”) was not confirmed: it may or may not have " +
        "been stored. After the reload, put your text back and save it again — it will not be " +
        "stored twice."));
    }
    var reload = el("button", "qi-connection-button", "Reload the page");
    reload.type = "button";
    reload.addEventListener("click", function () { location.reload(); });
    b.appendChild(reload);
    if (texts.length) { listKept(b, texts); }
    var other = document.getElementById("qi-connection-offer");
    if (other) { other.remove(); }
    var slow = document.getElementById("qi-connection-interrupted");
    if (slow) { slow.remove(); }
  }

  function markLost() {
    if (lost || leaving) { return; }
    lost = true;
    document.body.classList.add("qi-kernel-lost");
    showLost();
  }

  var connectingSince = null;

  function interrupted() {
    if (lost || leaving || connectingSince === null) { return; }
    var b = banner("qi-connection-interrupted", "status");
    b.className = "qi-connection qi-connection-interrupted";
    b.appendChild(el("p", null, "The connection to the dashboard is interrupted; trying to " +
      "reconnect… What you type is kept in this browser meanwhile."));
  }

  function resumed() {
    connectingSince = null;
    var b = document.getElementById("qi-connection-interrupted");
    if (b) { b.remove(); }
  }

  function watchKernel() {
    var app = window.jupyterapp;
    var kernel = app && app.widgetManager && app.widgetManager.kernel;
    if (!kernel || !kernel.statusChanged || !kernel.connectionStatusChanged) {
      setTimeout(watchKernel, 500);  // until Voilà's front end has started
      return;
    }
    window.qiwidgetsKernel = kernel;
    if (GONE[kernel.status] || kernel.connectionStatus === "disconnected") { markLost(); }
    kernel.statusChanged.connect(function (_, status) {
      if (GONE[status]) { markLost(); }
    });
    kernel.connectionStatusChanged.connect(function (_, status) {
      if (status === "disconnected") {
        markLost();
      } else if (status === "connecting") {
        if (connectingSince === null) {
          connectingSince = Date.now();
          setTimeout(interrupted, INTERRUPTED_AFTER_MS);
        }
      } else if (status === "connected") {
        resumed();
      }
    });
  }

  window.addEventListener("beforeunload", function () { leaving = true; });

  // --- after a reload: offer the kept text back -----------------------------------------------

  function offerIfKept() {
    if (!document.querySelector(".qi-team-dashboard, .qi-programme-dashboard")) { return; }
    var key = storageKey();
    if (offered[key]) { return; }
    var record = read(key);
    if (record.view === view) { return; }  // typed in this page view: nothing was lost
    var texts = keptTexts(record);
    if (!texts.length) { return; }
    offered[key] = true;
    var snapshot = JSON.parse(JSON.stringify(record));
    var b = banner("qi-connection-offer", "status");
    b.className = "qi-connection qi-connection-offer";
    var when = "";
    try {
      when = record.at ? new Date(record.at).toLocaleString(undefined,
        { dateStyle: "medium", timeStyle: "short" }) : "";
    } catch (err) { when = ""; }
    b.appendChild(el("p", "qi-connection-title",
      (record.lost ? "You have unsaved text from before the connection was lost" :
        "You have text you typed here earlier and did not save") +
      (record.team ? " for " + record.team : "") +
      (when ? ", kept in this browser on " + when : "") + "."));
    if (record.unconfirmed) {
      b.appendChild(el("p", "qi-unconfirmed", "Its save was not confirmed. If it had reached " +
        "the store, saving it again will not store it twice."));
    }
    var put = el("button", "qi-connection-button qi-put-back", "Put it back");
    put.type = "button";
    var discard = el("button", "qi-connection-button qi-discard", "Discard");
    discard.type = "button";
    b.appendChild(put);
    b.appendChild(discard);
    listKept(b, texts);
    discard.addEventListener("click", function () {
      var now = read(key);
      Object.keys(snapshot.fields).forEach(function (k) {
        var f = now.fields[k];
        if (f && JSON.stringify(f.value) === JSON.stringify(snapshot.fields[k].value)) {
          delete now.fields[k];
        }
      });
      delete now.unconfirmed;
      delete now.lost;
      write(key, now);
      b.remove();
    });
    put.addEventListener("click", function () {
      put.disabled = discard.disabled = true;
      b.querySelector(".qi-connection-title").textContent = "Putting your text back…";
      putBack(snapshot).then(function (missed) {
        b.textContent = "";
        if (!missed.length) {
          b.appendChild(el("p", "qi-connection-title qi-put-back-done", "Your text is back in " +
            "its place. Check it, then press Save."));
          var close = el("button", "qi-connection-button", "Close");
          close.type = "button";
          close.addEventListener("click", function () { b.remove(); });
          b.appendChild(close);
        } else {
          b.appendChild(el("p", "qi-connection-title", "Some of your text could not be put " +
            "back; copy it from here into its place, then press Save."));
          if (missed.some(function (f) { return f.recordGone; })) {
            b.appendChild(el("p", null, "It was a change to an earlier entry that has changed " +
              "since — perhaps your save did reach the store. Compare it with what is shown " +
              "there before you copy anything."));
          }
          listKept(b, missed.filter(function (f) { return f.kind === "text"; }));
        }
      });
    });
  }

  function until(test, ms) {
    return new Promise(function (resolve) {
      var end = Date.now() + ms;
      (function again() {
        var v = test();
        if (v || Date.now() > end) { resolve(v); return; }
        setTimeout(again, 200);
      })();
    });
  }

  // The kernel has answered what was just sent: busy, then idle (or a few seconds at most).
  function kernelSettles() {
    var kernel = window.qiwidgetsKernel;
    return new Promise(function (resolve) {
      if (!kernel) { setTimeout(resolve, 1000); return; }
      var busy = false;
      var done = function () {
        kernel.statusChanged.disconnect(onStatusChange);
        setTimeout(resolve, 300);  // the widget updates that came with it are drawn
      };
      var onStatusChange = function (_, s) {
        if (s === "busy") { busy = true; } else if (s === "idle" && busy) { done(); }
      };
      kernel.statusChanged.connect(onStatusChange);
      setTimeout(function () { if (!busy) { done(); } }, 3000);
    });
  }

  function openTab(title) {
    if (!title) { return Promise.resolve(); }
    var labels = document.querySelectorAll(ROOT + " .lm-TabBar-tab .lm-TabBar-tabLabel");
    for (var i = 0; i < labels.length; i++) {
      if (text(labels[i]) !== title) { continue; }
      var tab = labels[i].closest(".lm-TabBar-tab");
      if (tab.classList.contains("lm-mod-current")) { return Promise.resolve(); }
      var r = tab.getBoundingClientRect();
      var at = { bubbles: true, cancelable: true, button: 0, pointerId: 1, isPrimary: true,
                 clientX: r.left + r.width / 2, clientY: r.top + r.height / 2 };
      tab.dispatchEvent(new PointerEvent("pointerdown", at));
      tab.dispatchEvent(new PointerEvent("pointerup", at));
      return until(function () { return tab.classList.contains("lm-mod-current"); }, 5000);
    }
    return Promise.resolve();
  }

  function find(field) {
    var all = describe(allControls());
    for (var i = 0; i < all.length; i++) {
      var d = all[i];
      if (d.kind === field.kind && d.tab === field.tab && d.label === field.label &&
          d.n === field.n) { return d; }
    }
    return null;
  }

  function putBack(record) {
    var fields = Object.keys(record.fields).map(function (k) { return record.fields[k]; });
    var tabs = [];
    fields.forEach(function (f) { if (tabs.indexOf(f.tab) < 0) { tabs.push(f.tab); } });
    var missed = [];
    var chain = Promise.resolve();
    tabs.forEach(function (tab) {
      var mine = fields.filter(function (f) { return f.tab === tab; });
      chain = chain.then(function () { return openTab(tab); })
        .then(function () {
          return until(function () { return mine.every(function (f) { return find(f); }); },
                       FIELD_WAIT_MS);
        })
        .then(function () {  // first the record that was being edited, then its fields
          var picks = [];
          mine.forEach(function (f) {
            var d = find(f);
            var panel = d ? panelOf(d.el) : null;
            var pick = panel ? panel.querySelector(".qi-record-pick select") : null;
            if (!pick || f.pick === null || f.pick === undefined || pick.value === f.pick ||
                picks.indexOf(pick) >= 0) { return; }
            var there = Array.prototype.some.call(pick.options,
              function (o) { return o.value === f.pick; });
            if (there) {
              picks.push(pick);
              pick.value = f.pick;
              fire(pick, "change");
            } else if (pick.options.length && pick.options[0].value !== f.pick) {
              // an earlier record that has changed since (the save may have reached the
              // store): its words are shown for copying, not put into a new record
              f.recordGone = true;
            }
          });
          return picks.length ? kernelSettles() : null;
        })
        .then(function () {
          mine.forEach(function (f) {
            var d = find(f);
            var gone = mine.some(function (g) {
              return g.recordGone && g.pick === f.pick && g.tab === f.tab;
            });
            if (gone || !d || !setValue(d, f.value)) { missed.push(f); }
          });
        });
    });
    return chain.then(function () { return missed; });
  }

  dropOld();
  watchKernel();
})();
