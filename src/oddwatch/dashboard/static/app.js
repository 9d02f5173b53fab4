// oddwatch dashboard: renders the server's event stream (/events) with plain DOM, canvas and uPlot.
"use strict";

const LANES = 40;
const state = { key: null, source: null, chart: null, chartKey: null, lastAlert: 0, rate: null };
const stats = { updates: 0, last_ms: 0, max_ms: 0, total_ms: 0, mean_ms: 0 };
window.oddwatchStats = stats;

const $ = (id) => document.getElementById(id);
const fmt = (x) => (x === null || x === undefined ? "" : Math.abs(x) >= 1e5 || (x !== 0 && Math.abs(x) < 1e-3)
  ? x.toExponential(3) : Number(x.toPrecision(6)).toString());
const int = (x) => Math.round(x || 0).toLocaleString("en-US");

// Severity (score / threshold) to colour: grey-blue, yellow, orange, then red at the alarm level.
const STOPS = [[0, [238, 242, 247]], [0.5, [246, 226, 122]], [0.9, [243, 156, 61]], [1, [198, 40, 40]]];
function colour(s) {
  if (s >= 1) return "rgb(198,40,40)";
  for (let i = 1; i < STOPS.length; i++) {
    const [x1, c1] = STOPS[i], [x0, c0] = STOPS[i - 1];
    if (s <= x1) {
      const t = Math.max(0, (s - x0) / (x1 - x0));
      return `rgb(${c0.map((c, j) => Math.round(c + t * (c1[j] - c))).join(",")})`;
    }
  }
  return "rgb(198,40,40)";
}

function cell(row, text, cls) {
  const td = row.insertCell();
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

function when(ts, seq) {
  if (ts) return ts.replace("T", " ").slice(0, 19);
  return seq === undefined ? "" : `#${seq}`;
}

// ---- swim lanes -------------------------------------------------------------------------------
function lane(container, i) {
  let row = container.children[i];
  if (!row) {
    row = document.createElement("div");
    row.className = "lane";
    const button = document.createElement("button");
    button.addEventListener("click", () => { if (row.dataset.key !== undefined) select(row.dataset.key); });
    row.append(button, document.createElement("canvas"), document.createElement("span"));
    row.children[2].className = "count";
    container.append(row);
  }
  return row;
}

function paintCells(canvas, cells, width) {
  const height = 15;
  if (canvas.width !== width) canvas.width = width;
  if (canvas.height !== height) canvas.height = height;
  const ctx = canvas.getContext("2d");
  const w = width / cells.length;
  for (let j = 0; j < cells.length; j++) {
    ctx.fillStyle = colour(cells[j]);
    ctx.fillRect(Math.floor(j * w), 0, Math.ceil(w) - 1, height);
  }
}

function renderLanes(d) {
  const container = $("lanes");
  const width = Math.max(100, container.clientWidth - 170 - 64);  // read once: no layout per row
  const rows = [{ key: null, label: "all keys (max)", cells: d.overall, flags: null }].concat(
    d.lanes.map((l) => ({ key: l.key, label: l.key, cells: l.cells, flags: l.flags })));
  rows.forEach((r, i) => {
    const row = lane(container, i);
    row.classList.toggle("overall", r.key === null);
    row.classList.toggle("selected", r.key !== null && r.key === state.key);
    if (r.key === null) delete row.dataset.key; else row.dataset.key = r.key;
    row.children[0].textContent = r.label;
    row.children[0].title = r.label;
    paintCells(row.children[1], r.cells, width);
    const count = row.children[2];
    count.textContent = r.flags === null ? "" : `${int(r.flags)} ${r.flags === 1 ? "flag" : "flags"}`;
    count.classList.toggle("hot", (r.flags || 0) > 0);
  });
  while (container.children.length > rows.length) container.lastChild.remove();
  $("lanes-note").textContent = `top ${d.lanes.length} of ${int(d.n_keys)} keys, sorted by their highest surprise in the last ${int(d.overall.length * d.bucket_seconds)} s`;
  $("axis-left").textContent = `-${int(d.overall.length * d.bucket_seconds)} s`;
}

// ---- alerts, counters ---------------------------------------------------------------------------
function renderAlerts(d) {
  const body = $("alerts").tBodies[0];
  const rows = [];
  for (const a of d.alerts) {
    const tr = document.createElement("tr");
    if (a.id > state.lastAlert && state.lastAlert > 0) tr.className = "fresh";
    tr.dataset.id = a.id;
    cell(tr, when(a.timestamp, a.seq));
    const link = document.createElement("a");
    link.textContent = a.key;
    link.addEventListener("click", () => select(a.key));
    tr.insertCell().append(link);
    cell(tr, fmt(a.value), "num");
    cell(tr, a.reason, "reason");
    rows.push(tr);
  }
  if (!d.alerts.length || d.alerts[0].id !== state.lastAlert) body.replaceChildren(...rows);
  state.lastAlert = d.alerts.length ? d.alerts[0].id : state.lastAlert;
  $("alerts-note").textContent = `${int(d.n_alerts)} in all, newest first`;
}

function renderCounters(d) {
  const c = d.counters;
  const rows = [];
  const order = ["records_read", "valid", "invalid", "skipped", "flagged_invalid", "anomalies",
    "written", "keys", "evicted", "gaps", "webhook_sent", "webhook_failed", "webhook_dropped",
    "unreadable_lines"];
  const label = (name) => name.replace(/_/g, " ").replace("invalid.", "invalid: ");
  for (const name of order) {
    if (name in c) rows.push([label(name), int(c[name])]);
    if (name === "invalid")
      for (const kind of Object.keys(c).sort())
        if (kind.startsWith("invalid.")) rows.push([label(kind), int(c[kind])]);
  }
  if ("elapsed_s" in c) rows.push(["elapsed", `${fmt(c.elapsed_s)} s`]);
  rows.push(["shown on this page", `${int(d.board.folded)} of ${int(d.board.records)}`]);
  if (d.board.over_max_keys) rows.push(["records of keys past the page's limit", int(d.board.over_max_keys)]);
  const body = $("counters").tBodies[0];
  body.replaceChildren(...rows.map(([k, v]) => { const tr = document.createElement("tr"); cell(tr, k); cell(tr, v); return tr; }));
  const bins = $("severity-bins").tBodies[0];
  bins.replaceChildren(...Object.entries(d.keys_by_severity).map(([k, v]) => {
    const tr = document.createElement("tr"); cell(tr, k); cell(tr, int(v)); return tr;
  }));
  const records = c.records_read !== undefined ? c.records_read : d.board.records;
  const now = performance.now();
  if (state.rate && now > state.rate.t) {
    const r = (records - state.rate.n) / ((now - state.rate.t) / 1000);
    state.rate.shown = state.rate.shown === undefined ? r : 0.7 * state.rate.shown + 0.3 * r;
  }
  state.rate = { t: now, n: records, shown: state.rate ? state.rate.shown : undefined };
  $("h-records").textContent = int(records);
  $("h-rate").textContent = int(state.rate.shown || 0);
  $("h-keys").textContent = int(c.keys !== undefined ? c.keys : d.n_keys);
  $("h-anomalies").textContent = int(c.anomalies !== undefined ? c.anomalies : d.n_alerts);
}

// ---- one series ---------------------------------------------------------------------------------
function xValues(s) {
  if (!s.timestamp) return s.seq;
  return s.timestamp.map((t, i) => {
    if (!t) return s.seq[i];
    const zoned = /[zZ]|[+-]\d\d:?\d\d$/.test(t) ? t : t + "Z";
    const ms = Date.parse(zoned);
    return Number.isNaN(ms) ? s.seq[i] : ms / 1000;
  });
}

// Time ticks as the alert list writes times (UTC, 24-hour): the date where it changes.
function isoTicks(u, ticks) {
  const step = ticks.length > 1 ? ticks[1] - ticks[0] : 60;
  const iso = ticks.map((t) => new Date(t * 1e3).toISOString());
  return iso.map((d, i) => {
    const clock = step < 60 ? d.slice(11, 19) : d.slice(11, 16);
    return i === 0 || d.slice(0, 10) !== iso[i - 1].slice(0, 10) ? `${d.slice(0, 10)}\n${clock}` : clock;
  });
}

function renderSeries(s) {
  $("series-title").textContent = `Series: ${s.key}`;
  const note = $("series-note");
  if (!s.tracked) {
    note.textContent = s.known ? "collecting this key's points from now on..." : "no such key yet";
    return;
  }
  const x = xValues(s);
  const flags = s.value.map((v, i) => (s.flag[i] ? v : null));
  const data = [x, s.low, s.high, s.expected, s.value, flags];
  const band = s.low.some((v) => v !== null)
    ? `band = expected \u00b1 ${s.band_sd} sd` : "no expected band (the input carries no forecast)";
  note.textContent = `${int(s.n_points)} points seen, last ${int(s.value.length)} shown; ${band}`;
  const width = $("chart").clientWidth || 800;
  if (state.chart && state.chartKey === s.key) {
    state.chart.setData(data);
  } else {
    if (state.chart) state.chart.destroy();
    const time = !!s.timestamp;
    state.chart = new uPlot({
      width, height: 300,
      scales: { x: { time } },
      series: [
        { label: time ? "time (UTC)" : "record" },
        { label: "band low", stroke: "rgba(120,150,190,0.5)", width: 0.5, points: { show: false } },
        { label: "band high", stroke: "rgba(120,150,190,0.5)", width: 0.5, points: { show: false } },
        { label: "expected", stroke: "#6d7f95", dash: [4, 3], width: 1, points: { show: false } },
        { label: "value", stroke: "#3b6ea8", width: 1.4, points: { show: false } },
        { label: "flagged", stroke: "#c62828", width: 0, paths: () => null,
          points: { show: true, size: 9, fill: "#d62728", stroke: "#5a0d0d", width: 1 } },
      ],
      bands: [{ series: [2, 1], fill: "rgba(157,180,207,0.45)" }],
      axes: [time ? { values: isoTicks } : {}, {}],
      legend: { live: false },
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"),
    }, data, $("chart"));
    state.chartKey = s.key;
  }
  $("series-flags").hidden = false;
  const body = $("series-flags").tBodies[0];
  body.replaceChildren(...s.flags.slice().reverse().slice(0, 50).map((f) => {
    const tr = document.createElement("tr");
    cell(tr, when(f.timestamp, f.seq)); cell(tr, fmt(f.value), "num"); cell(tr, f.reason, "reason");
    return tr;
  }));
}

// ---- wiring -------------------------------------------------------------------------------------
function render(d) {
  const t0 = performance.now();
  renderLanes(d);
  renderAlerts(d);
  renderCounters(d);
  if (d.series && d.series.key === state.key) renderSeries(d.series);
  const ms = performance.now() - t0;
  stats.updates += 1; stats.last_ms = ms; stats.total_ms += ms;
  stats.max_ms = Math.max(stats.max_ms, ms); stats.mean_ms = stats.total_ms / stats.updates;
  stats.version = d.version;
  $("updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
  $("page-time").textContent = `page update ${ms.toFixed(1)} ms (mean ${stats.mean_ms.toFixed(1)}, max ${stats.max_ms.toFixed(1)}, ${stats.updates} updates)`;
}

function connect() {
  if (state.source) state.source.close();
  const query = `lanes=${LANES}` + (state.key !== null ? `&key=${encodeURIComponent(state.key)}` : "");
  const source = new EventSource(`/events?${query}`);
  source.onopen = () => { $("connection").textContent = "live"; $("connection").className = "pill on"; };
  source.onerror = () => { $("connection").textContent = "reconnecting"; $("connection").className = "pill off"; };
  source.onmessage = (event) => render(JSON.parse(event.data));
  state.source = source;
}

function select(key) {
  state.key = key;
  document.querySelectorAll(".lane").forEach((row) => row.classList.toggle("selected", row.dataset.key === key));
  fetch(`/api/series?key=${encodeURIComponent(key)}`).then((r) => r.json()).then((s) => {
    if (s.key === state.key) renderSeries(s);
  });
  connect();
}

$("search").addEventListener("input", (event) => {
  fetch(`/api/keys?q=${encodeURIComponent(event.target.value)}`).then((r) => r.json()).then((keys) => {
    $("search-keys").replaceChildren(...keys.map((k) => { const o = document.createElement("option"); o.value = k; return o; }));
  });
});
$("search").addEventListener("change", (event) => { if (event.target.value) select(event.target.value); });
connect();
