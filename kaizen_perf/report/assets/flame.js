// kaizen-perf interactive flame graph (icicle layout): zoom on click, search, profile and
// agent selection, differential colouring. No dependencies, no network.
(function () {
  "use strict";
  if (!document.getElementById("flame")) return;
  const DATA = JSON.parse(document.getElementById("kp-data").textContent);
  const box = document.getElementById("flame");
  const info = document.getElementById("flame-info");
  const search = document.getElementById("flame-search");
  const kindSel = document.getElementById("flame-kind");
  const agentSel = document.getElementById("flame-agent");
  const ROW = 18;
  let focus = null, current = null;

  function hue(name) {
    let h = 0;
    for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
    return h;
  }
  function colour(node) {
    if (DATA.diff) {
      // only differences beyond sampling noise are coloured (node.s, set by the report)
      const share = node.v && node.s ? Math.max(-1, Math.min(1, (node.d || 0) / node.v)) : 0;
      const k = Math.round(255 - Math.abs(share) * 180);
      return share >= 0 ? `rgb(255,${k},${k})` : `rgb(${k},${k},255)`;
    }
    const h = hue(node.n);
    return `hsl(${15 + (h % 40)},${70 + (h % 20)}%,${55 + (h % 15)}%)`;
  }
  function draw() {
    // per-agent trees are stored as "<kind>:<agent>" (split by the sampled process's agent)
    const kind = kindSel ? kindSel.value : Object.keys(DATA.flames)[0];
    const agent = agentSel ? agentSel.value : "";
    const tree = DATA.flames[agent ? kind + ":" + agent : kind];
    if (!tree) { box.textContent = "No stack samples in this run."; return; }
    current = tree;
    const top = focus && contains(current, focus) ? focus : current;
    box.innerHTML = "";
    const width = box.clientWidth || 1000;
    const path = ancestors(current, top) || [current];
    let depth = 0;
    for (const a of path.slice(0, -1)) place(a, 0, width, depth++, true);
    layout(top, 0, width, depth);
    box.style.height = (maxDepth(top) + depth + 1) * ROW + "px";
    info.textContent = `${top.n}: ${top.v} samples (${pct(top.v, current.v)} of ${current.n})`;
    highlight();
  }
  function contains(root, node) { return ancestors(root, node) !== null; }
  function ancestors(root, node) {
    if (root === node) return [root];
    for (const c of root.c || []) {
      const p = ancestors(c, node);
      if (p) return [root].concat(p);
    }
    return null;
  }
  function maxDepth(n) { return 1 + Math.max(0, ...(n.c || []).map(maxDepth)); }
  function pct(v, total) { return (100 * v / Math.max(1, total)).toFixed(1) + "%"; }
  function place(node, x, w, depth, dim) {
    const el = document.createElement("div");
    el.className = "frame" + (dim ? " ancestor" : "");
    el.style.left = x + "px"; el.style.width = Math.max(0, w - 1) + "px";
    el.style.top = depth * ROW + "px"; el.style.background = colour(node);
    el.dataset.name = node.n;
    el.title = `${node.n}\n${node.v} samples, ${pct(node.v, current.v)}` +
      (DATA.diff ? `\nchange: ${(node.d || 0) > 0 ? "+" : ""}${Math.round(node.d || 0)} samples` +
        (node.s ? "" : " (within sampling noise)") : "");
    if (w > 30) el.textContent = node.n;
    el.onclick = () => { focus = node; draw(); };
    box.appendChild(el);
  }
  function layout(node, x, w, depth) {
    place(node, x, w, depth, false);
    let cx = x;
    for (const c of node.c || []) {
      const cw = w * c.v / Math.max(1, node.v);
      if (cw >= 1) layout(c, cx, cw, depth + 1);
      cx += cw;
    }
  }
  function highlight() {
    const q = search ? search.value.trim().toLowerCase() : "";
    let matched = 0;
    for (const el of box.querySelectorAll(".frame")) {
      const hit = q !== "" && el.dataset.name.toLowerCase().includes(q);
      el.classList.toggle("match", hit);
      if (hit) matched++;
    }
    const out = document.getElementById("flame-matches");
    if (out) out.textContent = q ? `${matched} frames match` : "";
  }
  if (search) search.oninput = highlight;
  function showHottest() {
    // the hottest-functions table of the profile the flame graph draws
    const kind = kindSel ? kindSel.value : "";
    for (const t of document.querySelectorAll("table.hottest")) t.hidden = t.dataset.kind !== kind;
  }
  if (kindSel) kindSel.onchange = () => { focus = null; showHottest(); draw(); };
  if (agentSel) agentSel.onchange = () => { focus = null; draw(); };
  document.getElementById("flame-reset").onclick = () => { focus = null; draw(); };
  window.addEventListener("resize", draw);
  draw();
})();
