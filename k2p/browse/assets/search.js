// k2p browse: client-side search over the shards in search/ (loaded as <script> files, which
// works from file://). Results are built with textContent and DOM nodes only.
(function () {
  "use strict";
  var META = window.K2P_SEARCH_META || { shards: 1, docShard: 1000, docs: 0, wordMin: 2, wordMax: 40 };
  var loading = {};
  function data() { window.K2P_SEARCH = window.K2P_SEARCH || { t: {}, d: {} }; return window.K2P_SEARCH; }
  function words(text) {
    var found = (text.toLowerCase().match(/[\p{L}\p{N}]+/gu) || []);
    return found.filter(function (w) { return Array.from(w).length >= META.wordMin; })
                .map(function (w) { return Array.from(w).slice(0, META.wordMax).join(""); });
  }
  function shardOf(word) {
    var prefix = Array.from(word).slice(0, 2).join("");
    var h = 2166136261;
    for (var i = 0; i < prefix.length; i++) { h ^= prefix.charCodeAt(i); h = Math.imul(h, 16777619) >>> 0; }
    return h % META.shards;
  }
  function load(kind, n) {
    var key = kind + n;
    if (!loading[key]) {
      loading[key] = new Promise(function (resolve, reject) {
        if (data()[kind][n]) return resolve();
        var s = document.createElement("script");
        s.src = "search/" + kind + "-" + n + ".js";
        s.onload = function () { resolve(); };
        s.onerror = function () { reject(new Error("search index file missing: " + s.src)); };
        document.head.appendChild(s);
      });
    }
    return loading[key];
  }
  function decode(deltas) { var out = [], n = 0; for (var i = 0; i < deltas.length; i++) { n += deltas[i]; out.push(n); } return out; }
  function postings(word, prefix) {
    var table = data().t[shardOf(word)] || {};
    if (!prefix) return table[word] ? decode(table[word]) : [];
    var set = new Set();
    Object.keys(table).forEach(function (key) {
      if (key.lastIndexOf(word, 0) === 0) decode(table[key]).forEach(function (d) { set.add(d); });
    });
    return Array.from(set).sort(function (a, b) { return a - b; });
  }
  function intersect(a, b) { var s = new Set(b); return a.filter(function (x) { return s.has(x); }); }
  function run(query) {
    var qs = words(query);
    if (!qs.length) return Promise.resolve(null);
    return Promise.all(qs.map(function (w) { return load("t", shardOf(w)); })).then(function () {
      var hits = null;
      qs.forEach(function (w, i) {
        var list = postings(w, i === qs.length - 1);
        hits = hits === null ? list : intersect(hits, list);
      });
      hits = hits || [];
      var shown = hits.slice(0, 2000);
      var needed = Array.from(new Set(shown.map(function (d) { return Math.floor(d / META.docShard); })));
      return Promise.all(needed.map(function (n) { return load("d", n); })).then(function () {
        var phrase = query.replace(/["“”]/g, "").toLowerCase().trim();
        var docs = shown.map(function (d) {
          var e = data().d[Math.floor(d / META.docShard)][d % META.docShard];
          var exact = (e[1] + " " + e[4]).toLowerCase().indexOf(phrase) !== -1;
          return { kind: e[0], title: e[1], page: e[2], where: e[3], text: e[4], exact: exact, n: d };
        });
        docs.sort(function (a, b) { return (b.exact - a.exact) || (a.n - b.n); });
        return { total: hits.length, docs: docs.slice(0, 200), words: qs };
      });
    });
  }
  function snippet(text, qs) {
    var lower = text.toLowerCase(), at = -1, word = "";
    for (var i = 0; i < qs.length && at === -1; i++) { at = lower.indexOf(qs[i]); word = qs[i]; }
    var node = document.createElement("div");
    node.className = "snippet";
    if (at === -1) { node.textContent = text.slice(0, 200); return node; }
    var start = Math.max(0, at - 80);
    node.appendChild(document.createTextNode((start ? "…" : "") + text.slice(start, at)));
    var mark = document.createElement("mark");
    mark.textContent = text.slice(at, at + word.length);
    node.appendChild(mark);
    node.appendChild(document.createTextNode(text.slice(at + word.length, at + word.length + 120) + "…"));
    return node;
  }
  function show(query) {
    var status = document.getElementById("search-status"), list = document.getElementById("results");
    var started = performance.now();
    while (list.firstChild) list.removeChild(list.firstChild);
    run(query).then(function (result) {
      if (!result) { status.textContent = "Type at least two letters."; return; }
      result.docs.forEach(function (doc) {
        var li = document.createElement("li"), kind = document.createElement("span"), a = document.createElement("a");
        li.className = "result " + doc.kind;
        kind.className = "kind"; kind.textContent = doc.kind;
        a.href = doc.page; a.textContent = doc.title || "(untitled)";
        var where = document.createElement("div"); where.className = "where"; where.textContent = doc.where;
        li.appendChild(kind); li.appendChild(a); li.appendChild(where);
        if (doc.text) li.appendChild(snippet(doc.text, result.words));
        list.appendChild(li);
      });
      var ms = Math.round(performance.now() - started);
      status.textContent = result.total + " result(s)" + (result.total > result.docs.length ? ", first " + result.docs.length + " shown" : "") + " in " + ms + " ms";
      status.setAttribute("data-total", String(result.total));
      status.setAttribute("data-ms", String(ms));
    }).catch(function (err) { status.textContent = String(err.message || err); });
  }
  function init() {
    var input = document.getElementById("q");
    var params = new URLSearchParams(window.location.search);
    var q = params.get("q") || decodeURIComponent((window.location.hash.match(/^#q=(.*)$/) || [])[1] || "");
    var timer = null;
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () { show(input.value); }, 150);
    });
    if (q) { input.value = q; show(q); }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init); else init();
})();
