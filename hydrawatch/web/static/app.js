// hydrawatch web page: the watchlist, a domain's detail and its lineage graph (inline SVG).
// Crawled text is hostile: every value from the API goes into the DOM as text (textContent or
// createTextNode) or as a plain attribute value; never innerHTML, never an href or event attribute.
"use strict";

(function () {
  const SVG_NS = "http://www.w3.org/2000/svg";
  const RELATIONS = ["replacement", "mirror", "network"];
  const STATUSES = ["active", "seized", "suspended", "parked", "redirecting", "dead", "unknown"];
  let searchTimer = null;
  let current = null;

  function $(id) { return document.getElementById(id); }

  // An HTML element with attributes and children (strings become text nodes).
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(c == null ? "" : String(c)));
    return node;
  }

  function svg(tag, attrs) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    return node;
  }

  function statusClass(status) { return "status-" + (STATUSES.includes(status) ? status : "unknown"); }
  function relationClass(rel) { return "rel-" + (RELATIONS.includes(rel) ? rel : "network"); }
  function badge(status) { return el("span", { class: "badge " + statusClass(status) }, status); }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  // One visible error line; ``source`` says who set it, so that the watchlist arriving after a
  // domain's 404 (the two load at once) does not wipe the domain's error.
  function showError(text, source) {
    const box = $("error");
    box.textContent = text;
    box.hidden = !text;
    box.setAttribute("data-source", text ? source || "" : "");
  }

  function clearError(source) {
    if ($("error").getAttribute("data-source") === source) showError("");
  }

  // The token, if the server wants one, travels in the HttpOnly cookie a ?token= link set (the
  // server answers such a link with a redirect to the same address without it): never in a URL here.
  async function api(path) {
    const response = await fetch(path, { credentials: "same-origin" });
    if (!response.ok) {
      let detail = response.statusText;
      try { detail = (await response.json()).detail || detail; } catch (e) { /* not JSON */ }
      const error = new Error(String(detail));
      error.status = response.status;
      throw error;
    }
    return response.json();
  }

  // ---- the watchlist ---------------------------------------------------------------------------

  async function loadList() {
    const params = new URLSearchParams();
    const q = $("search").value.trim();
    if (q) params.set("q", q);
    if ($("status-filter").value) params.set("status", $("status-filter").value);
    params.set("limit", "2000");
    try {
      const data = await api("/api/domains?" + params.toString());
      renderList(data);
      clearError("list");
    } catch (e) {
      showError("cannot load the watchlist: " + e.message, "list");
    }
  }

  function renderList(data) {
    const body = $("watchlist").querySelector("tbody");
    clear(body);
    for (const d of data.domains) {
      const row = el("tr", { "data-domain": d.domain },
        el("td", {}, d.domain), el("td", {}, badge(d.status)), el("td", {}, d.since || ""), el("td", {}, d.campaign));
      if (current === d.domain) row.classList.add("selected");
      row.addEventListener("click", () => select(d.domain));
      body.append(row);
    }
    $("count").textContent = data.total + (data.total === 1 ? " domain" : " domains");
  }

  // A domain's address is "#/domain/NAME" (the form alert e-mails link to); "#NAME" still opens it.
  const ROUTE = "#/domain/";

  function routed(hash) {
    const raw = hash.startsWith(ROUTE) ? hash.slice(ROUTE.length) : hash.slice(1);
    try { return decodeURIComponent(raw); } catch (e) { return raw; }
  }

  function select(name) {
    const wanted = ROUTE + encodeURIComponent(name);
    if (window.location.hash === wanted) loadDomain(name);
    else window.location.hash = wanted;
  }

  // ---- one domain --------------------------------------------------------------------------------

  async function loadDomain(name) {
    current = name;
    for (const row of $("watchlist").querySelectorAll("tbody tr")) {
      row.classList.toggle("selected", row.getAttribute("data-domain") === name);
    }
    try {
      const [detail, family] = await Promise.all([
        api("/api/domains/" + encodeURIComponent(name)),
        api("/api/lineage/" + encodeURIComponent(name)),
      ]);
      renderDetail(detail);
      renderGraph(family);
      showError("");
    } catch (e) {
      showError(e.status === 404 ? name + " is not in the store" : "cannot load " + name + ": " + e.message);
    }
  }

  function renderDetail(d) {
    $("detail").hidden = false;
    $("d-name").textContent = d.domain;
    const meta = $("d-meta");
    clear(meta);
    meta.append(badge(d.status), " since " + (d.since || "—") + " · " + d.reason,
      el("br"), "campaign " + (d.campaign || "—") + " · " + d.origin + " · first seen " + d.first_seen +
      " · last seen " + d.last_seen);
    const page = $("d-page");
    clear(page);
    if (d.last_page) {
      page.append(el("span", { class: "muted" }, "last page (" + d.last_page.observed_at + ", HTTP " +
        d.last_page.http_status + "): "), el("span", { id: "d-title" }, d.last_page.title || "(no title)"));
    }
    const history = $("d-history");
    clear(history);
    for (const h of d.status_history) {
      history.append(el("li", {}, h.since + " ", badge(h.status), " " + h.reason));
    }
    const indicators = $("d-indicators").querySelector("tbody");
    clear(indicators);
    for (const i of d.indicators) {
      const link = el("button", { class: "indicator-link", type: "button" }, i.value);
      link.addEventListener("click", () => loadPivot(i.kind, i.value));
      indicators.append(el("tr", {}, el("td", {}, i.kind), el("td", {}, link), el("td", {}, i.first_seen),
        el("td", {}, i.last_seen), el("td", {}, String(i.domains))));
    }
    $("pivot").hidden = true;
    $("evidence").hidden = true;
  }

  async function loadPivot(kind, value) {
    try {
      const data = await api("/api/pivot/" + encodeURIComponent(kind) + "/" + encodeURIComponent(value));
      $("pv-title").textContent = data.domains.length + " domains with " + kind + " = " + value;
      const body = $("pv-table").querySelector("tbody");
      clear(body);
      for (const d of data.domains) {
        const link = el("button", { class: "domain-link", type: "button" }, d.domain);
        link.addEventListener("click", () => select(d.domain));
        body.append(el("tr", {}, el("td", {}, link), el("td", {}, badge(d.status)),
          el("td", {}, d.indicator_first_seen), el("td", {}, d.indicator_last_seen)));
      }
      $("pivot").hidden = false;
    } catch (e) {
      showError("pivot failed: " + e.message);
    }
  }

  // ---- the lineage graph ---------------------------------------------------------------------------

  const NODE_W = 190, NODE_H = 44, COL_GAP = 110, ROW_GAP = 26, PAD = 20;

  function layout(members) {
    const columns = new Map();
    for (const m of members) {
      if (!columns.has(m.depth)) columns.set(m.depth, []);
      columns.get(m.depth).push(m);
    }
    const depths = Array.from(columns.keys()).sort((a, b) => a - b);
    const place = new Map();
    let rows = 1;
    depths.forEach((depth, col) => {
      const list = columns.get(depth);
      rows = Math.max(rows, list.length);
      list.forEach((m, row) => place.set(m.domain, { x: PAD + col * (NODE_W + COL_GAP), y: PAD + row * (NODE_H + ROW_GAP), m: m }));
    });
    return { place: place, width: PAD * 2 + depths.length * NODE_W + (depths.length - 1) * COL_GAP,
      height: PAD * 2 + rows * NODE_H + (rows - 1) * ROW_GAP };
  }

  function renderGraph(family) {
    const box = $("graph");
    clear(box);
    const { place, width, height } = layout(family.members);
    const root = svg("svg", { width: width, height: height + 20, viewBox: "0 0 " + width + " " + (height + 20),
      role: "img", "aria-label": "lineage of " + family.domain, id: "lineage-svg" });
    const defs = svg("defs");
    for (const rel of RELATIONS) {
      const marker = svg("marker", { id: "arrow-" + rel, class: "rel-" + rel, viewBox: "0 0 10 10", refX: 10, refY: 5,
        markerWidth: 12, markerHeight: 12, markerUnits: "userSpaceOnUse", orient: "auto-start-reverse" });
      marker.append(svg("path", { d: "M 0 0 L 10 5 L 0 10 z" }));
      defs.append(marker);
    }
    root.append(defs);
    const pairCount = new Map();
    family.edges.forEach((edge, index) => {
      const a = place.get(edge.from), b = place.get(edge.to);
      if (!a || !b) return;
      const key = [edge.from, edge.to].sort().join(" ");
      const nth = pairCount.get(key) || 0;
      pairCount.set(key, nth + 1);
      const forward = a.x <= b.x;
      const x1 = forward ? a.x + NODE_W : a.x, x2 = forward ? b.x : b.x + NODE_W;
      const y1 = a.y + NODE_H / 2, y2 = b.y + NODE_H / 2;
      const bend = (a.x === b.x ? 80 : 0) + nth * 22;
      const c1x = forward ? x1 + 50 + bend : x1 - 50 - bend, c2x = forward ? x2 - 50 - bend : x2 + 50 + bend;
      const d = "M " + x1 + " " + y1 + " C " + c1x + " " + (y1 + nth * 18) + ", " + c2x + " " + (y2 + nth * 18) + ", " + x2 + " " + y2;
      const rel = RELATIONS.includes(edge.relation) ? edge.relation : "network";
      const group = svg("g", { class: "lineage-edge" });
      const hit = svg("path", { d: d, class: "edge-hit", "data-edge": index, "data-from": edge.from, "data-to": edge.to,
        "data-relation": edge.relation });
      const line = svg("path", { d: d, class: "edge " + relationClass(rel), "marker-end": "url(#arrow-" + rel + ")" });
      const label = svg("text", { x: (x1 + x2) / 2, y: (y1 + y2) / 2 - 9 + nth * 18, "text-anchor": "middle", class: "edge-label",
        "data-from": edge.from, "data-to": edge.to });
      label.textContent = edge.relation + " " + Number(edge.confidence).toFixed(2);
      const title = svg("title");
      title.textContent = edge.from + " → " + edge.to + " (" + edge.relation + "): click for evidence";
      hit.append(title);
      hit.addEventListener("click", () => showEvidence(edge, line));
      label.addEventListener("click", () => showEvidence(edge, line));
      group.append(hit, line, label);
      root.append(group);
    });
    for (const [name, p] of place) {
      const group = svg("g", { class: "node " + statusClass(p.m.status) + (p.m.role === "self" ? " root" : ""),
        "data-domain": name, transform: "translate(" + p.x + " " + p.y + ")" });
      const rect = svg("rect", { width: NODE_W, height: NODE_H, rx: 6 });
      const title = svg("title");
      title.textContent = name + " — " + p.m.status + " (" + p.m.role + ")";
      rect.append(title);
      const text = svg("text", { x: 10, y: 18 });
      text.textContent = name.length > 26 ? name.slice(0, 25) + "…" : name;
      const sub = svg("text", { x: 10, y: 35 });
      sub.textContent = p.m.status + (p.m.since ? " · " + p.m.since.slice(0, 10) : "");
      group.append(rect, text, sub);
      group.addEventListener("click", () => { if (name !== family.domain) select(name); });
      root.append(group);
    }
    box.append(root);
    const legend = $("legend");
    clear(legend);
    for (const rel of RELATIONS) legend.append(el("span", {}, el("span", { class: "swatch rel-" + rel }), rel));
    legend.append(el("span", { class: "muted" }, family.edges.length ? "click an edge for its evidence" : "no lineage edges"));
  }

  function showEvidence(edge, line) {
    for (const other of document.querySelectorAll("#graph .edge.selected")) other.classList.remove("selected");
    line.classList.add("selected");
    $("ev-title").textContent = edge.from + " → " + edge.to + ": " + edge.relation + ", confidence " +
      Number(edge.confidence).toFixed(2) + ", detected " + edge.detected_at;
    renderGroups(edge, false);
    $("ev-table").hidden = true;
    const body = $("ev-table").querySelector("tbody");
    clear(body);
    for (const e of edge.evidence) {
      body.append(el("tr", { class: "evidence-row" }, el("td", {}, e.kind), el("td", {}, e.value),
        el("td", {}, (e.weight >= 0 ? "+" : "") + Number(e.weight).toFixed(2)), el("td", {}, e.detail || "")));
    }
    if (!edge.evidence.length) body.append(el("tr", {}, el("td", { colspan: 4 }, "no evidence recorded")));
    $("evidence").hidden = false;
  }

  function signed(weight) { return (weight >= 0 ? "+" : "") + Number(weight).toFixed(2); }

  // The evidence grouped by family as the API gives it (detect/evidence_summary.py, the grouping the
  // terminal and the mails show): deciding families first, minor lines only when every item is asked for.
  function renderGroups(edge, every) {
    const body = $("ev-groups").querySelector("tbody");
    clear(body);
    let hidden = 0;
    for (const g of edge.evidence_groups || []) {
      const lines = g.lines.filter((line) => every || !line.minor);
      for (const line of g.lines) if (!every && line.minor) hidden += line.count;
      if (!lines.length) continue;
      const verdict = g.deciding ? (g.family === "against" ? " · lowered the confidence" : " · decided") : "";
      body.append(el("tr", { class: "evidence-family" + (g.deciding ? " deciding" : ""), "data-family": g.family },
        el("th", { colspan: 3 }, g.family + " " + Number(g.strength).toFixed(2) + verdict)));
      for (const line of lines) {
        body.append(el("tr", { class: "evidence-line" + (line.counted ? "" : " muted"), "data-kind": line.kind },
          el("td", {}, ""), el("td", {}, signed(line.weight)), el("td", {}, line.text)));
      }
    }
    if (!body.firstChild) body.append(el("tr", {}, el("td", { colspan: 3 }, "no evidence recorded")));
    const button = $("ev-all");
    button.textContent = every ? "grouped view only" : "every item (" + edge.evidence.length + ")" +
      (hidden ? ", " + hidden + " minor hidden" : "");
    button.onclick = () => {
      renderGroups(edge, !every);
      $("ev-table").hidden = every;
    };
  }

  // ---- wiring ------------------------------------------------------------------------------------

  function fromHash() {
    const name = routed(window.location.hash);
    if (name) loadDomain(name);
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("search").addEventListener("input", () => {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(loadList, 150);
    });
    $("search").addEventListener("keydown", (event) => {
      if (event.key !== "Enter") return;
      const first = $("watchlist").querySelector("tbody tr");
      if (first) select(first.getAttribute("data-domain"));
    });
    $("status-filter").addEventListener("change", loadList);
    window.addEventListener("hashchange", fromHash);
    loadList();
    fromHash();
  });
})();
