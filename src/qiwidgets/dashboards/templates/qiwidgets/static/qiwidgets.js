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
