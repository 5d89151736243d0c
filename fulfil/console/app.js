/* fulfil dispatcher console: plain JavaScript over the /api of `fulfil serve`, no build step.
 *
 * The page keeps the token in sessionStorage (gone when the tab closes) and sends it as
 * `Authorization: Bearer` on every /api call. Everything it shows comes from the API: the scenario's
 * sites, a job's status, its plan (plan format 2) and, for a re-plan, its changes. Elements the
 * browser test uses carry stable ids and data attributes (data-trip-id, data-duty, data-kpi, ...);
 * `window.fulfilConsole` lists what is drawn, so a test can compare it with the plan.
 */
"use strict";

(function () {
  const KEY = { token: "fulfil.token", scenario: "fulfil.scenario", job: "fulfil.job", why: "fulfil.loggedOut" };
  const ACTIVE = new Set(["queued", "running"]);
  const POLL_MS = 700;
  /* The dispatcher's targets (DOMAIN.md: on-time arrival and temperature compliance >= 98 %,
   * a delivery cost share above 15 % of sales marks a failing region). */
  const TARGETS = [
    { key: "two_hour_compliance", label: "2-hour promise kept", target: "≥ 98 %", ok: (v) => v >= 0.98 },
    { key: "in_spec_share", alt: "cold_chain_compliance", label: "cold goods in spec", target: "≥ 98 %",
      ok: (v) => v >= 0.98 },
    { key: "delivery_cost_share_of_sales", label: "delivery cost / sales", target: "< 15 %", ok: (v) => v < 0.15 },
  ];
  const FACTS = [
    ["cost", "cost, RMB", money], ["cost_per_order", "cost per order, RMB", money],
    ["vehicles", "vehicles", String], ["trips", "trips", String], ["stops", "last-mile stops", String],
    ["fill_rate", "fill rate", pct], ["orders_unserved", "orders unserved", (v) => v.toFixed(1)],
    ["units_unserved", "units unserved", String],
  ];

  const state = {
    token: null, loggedIn: false, scenario: null, sites: new Map(), planJobId: null, plan: null, followId: null,
    timer: null, events: emptyEvents(), applied: null, selectedTrip: null, drawn: new Map(), pickupMarkers: new Map(),
    warehouseMarkers: [], colours: new Map(), map: null, layers: null,
  };

  // ------------------------------------------------------------------ small helpers
  const $ = (sel) => document.querySelector(sel);

  /** An element with attributes (`text` sets textContent, `on*` a listener) and children. */
  function h(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : v);
    }
    node.append(...children.filter((c) => c !== null && c !== undefined));
    return node;
  }

  /** Replace a node's children, leaving out the absent (null) ones. */
  function fill(node, ...children) {
    node.replaceChildren(...children.filter((c) => c !== null && c !== undefined));
  }

  function s(tag, attrs = {}) {
    const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    return node;
  }

  function clock(minutes) {
    const m = Math.round(minutes);
    return `${String(Math.floor(m / 60)).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}`;
  }

  function minutesOf(text) {
    const m = /^(\d{1,2}):(\d{2})$/.exec(text.trim());
    return m && Number(m[2]) < 60 ? Number(m[1]) * 60 + Number(m[2]) : null;
  }

  function pct(v) { return `${(100 * v).toFixed(2)} %`; }
  function money(v) { return v === null || v === undefined ? "–" : Number(v).toLocaleString("en", { maximumFractionDigits: 2 }); }
  function signed(v, fmt = money) { return `${v > 0 ? "+" : v < 0 ? "−" : "±"}${fmt(Math.abs(v))}`; }
  function colourOf(i) { return `hsl(${Math.round((i * 137.508) % 360)}, 70%, 42%)`; }
  function units(stop) { return Object.values(stop.products || {}).reduce((a, b) => a + b, 0); }

  function message(text, kind = "info", lines = []) {
    const box = h("div", { class: `message ${kind}` }, h("button", { type: "button", text: "×", title: "dismiss",
      onclick: () => box.remove() }), h("strong", { text }));
    if (lines.length) box.append(h("ul", {}, ...lines.map((l) => h("li", { text: l }))));
    $("#messages").append(box);
    if (kind === "info") setTimeout(() => box.remove(), 6000);
  }

  function showError(err) {
    message(err.message || String(err), "error", err.problems || []);
  }

  // ------------------------------------------------------------------ the API
  class ApiError extends Error {
    constructor(status, doc) {
      const detail = doc && typeof doc === "object" ? doc.detail : doc;
      super(`${status}: ${typeof detail === "string" ? detail : JSON.stringify(detail)}`);
      this.status = status;
      this.problems = (doc && doc.problems) || [];
    }
  }

  async function api(method, path, body) {
    const headers = { Authorization: `Bearer ${state.token}` };
    let payload = body;
    if (body !== undefined && !(body instanceof FormData)) {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    const r = await fetch(path, { method, headers, body: payload });
    const text = await r.text();
    let doc = text;
    try { doc = JSON.parse(text); } catch (_) { /* not JSON: keep the text */ }
    if (!r.ok) {
      const err = new ApiError(r.status, doc);
      if (r.status === 401 && state.loggedIn) logout("The server refused the token; log in again.");
      throw err;
    }
    return doc;
  }

  // ------------------------------------------------------------------ log in / out
  async function login(token) {
    state.token = token;
    try {
      await api("GET", "/api/jobs");
    } catch (err) {
      state.token = null;
      sessionStorage.removeItem(KEY.token);
      $("#login-error").textContent = err.status === 401 ? "That token was refused." : err.message;
      return;
    }
    sessionStorage.setItem(KEY.token, token);
    state.loggedIn = true;
    $("#login").hidden = true;
    $("#app").hidden = false;
    $("#logout-button").hidden = false;
    initMap();
    document.body.dataset.loggedIn = "1";
    await refreshJobs();
    const scenarioId = sessionStorage.getItem(KEY.scenario);
    const jobId = sessionStorage.getItem(KEY.job);
    try {
      if (scenarioId) await openScenario(Number(scenarioId));
      if (jobId) follow(Number(jobId));
    } catch (err) {
      showError(err);
    }
  }

  /** Forget the token and start over (a fresh page: nothing of the last session stays on screen). */
  function logout(why) {
    Object.values(KEY).forEach((k) => sessionStorage.removeItem(k));
    if (why) sessionStorage.setItem(KEY.why, why);
    location.reload();
  }

  // ------------------------------------------------------------------ scenario
  async function loadDemo() {
    const button = $("#load-demo-button");
    button.disabled = true;
    try {
      const manifest = await fetch("demo/manifest.json").then(async (r) => {
        if (!r.ok) throw new ApiError(r.status, await r.json().catch(() => r.statusText));
        return r.json();
      });
      const form = new FormData();
      for (const name of manifest.files) {
        const blob = await fetch(`demo/${encodeURIComponent(name)}`).then((r) => r.blob());
        form.append("files", new File([blob], name));
      }
      form.append("entry", manifest.entry);
      const row = await api("POST", "/api/scenarios", form);
      await openScenario(row.id);
      message(`Demo night stored as scenario ${row.id} (${row.name} v${row.version}).`);
    } catch (err) {
      showError(err);
    } finally {
      button.disabled = false;
    }
  }

  async function openScenario(id) {
    if (state.scenario && state.scenario.id === id) return;
    const sc = await api("GET", `/api/scenarios/${id}`);
    state.scenario = sc;
    sessionStorage.setItem(KEY.scenario, String(id));
    state.sites = new Map();
    for (const c of sc.central_warehouses) state.sites.set(c.id, { ...c, role: "central" });
    for (const f of sc.forward_warehouses) state.sites.set(f.id, { ...f, role: "forward" });
    for (const p of sc.pickup_points) state.sites.set(p.id, { ...p, role: "pickup" });
    $("#scenario-info").textContent = `${sc.name} v${sc.version} (scenario ${sc.id}): ${sc.pickup_points.length} `
      + `pickup points, ${sc.forward_warehouses.length} forward warehouses, ${sc.orders.toLocaleString("en")} orders, `
      + `${sc.vehicles} vehicles`;
    document.body.dataset.scenario = String(id);
    $("#late-product").replaceChildren(...sc.products.map((p) => h("option", { value: p.id, text: `${p.id} (${p.zone})` })));
    $("#pickup-list").replaceChildren(...sc.pickup_points.map((p) => h("option", { value: p.id })));
    drawSites();
    $("#plan-button").disabled = false;
  }

  // ------------------------------------------------------------------ jobs
  async function refreshJobs() {
    const jobs = await api("GET", "/api/jobs");
    $("#job-select").replaceChildren(h("option", { value: "", text: "earlier jobs…" }), ...jobs.slice().reverse().map(
      (j) => h("option", { value: j.id, text: `job ${j.id} · ${j.kind} · ${j.status}` })));
  }

  async function startPlan() {
    const budget = Number($("#budget-input").value);
    try {
      const job = await api("POST", "/api/jobs", { scenario_id: state.scenario.id, time_limit_s: budget, seed: 0 });
      follow(job.id);
    } catch (err) {
      showError(err);
    }
  }

  async function cancelJob() {
    try {
      const r = await api("POST", `/api/jobs/${state.followId}/cancel`);
      message(`Job ${r.id}: ${r.result}; the best plan so far is kept.`);
    } catch (err) {
      showError(err);
    }
  }

  /** Poll a job until it ends, then show its plan (and, for a re-plan, what changed). */
  function follow(id) {
    clearTimeout(state.timer);
    state.followId = id;
    sessionStorage.setItem(KEY.job, String(id));
    const tick = async () => {
      if (state.followId !== id) return;
      let job;
      try {
        job = await api("GET", `/api/jobs/${id}`);
      } catch (err) {
        showError(err);
        if (err.status !== 404) state.timer = setTimeout(tick, POLL_MS * 3);
        return;
      }
      showJob(job);
      if (ACTIVE.has(job.status)) {
        state.timer = setTimeout(tick, POLL_MS);
        return;
      }
      await finishJob(job);
    };
    tick();
  }

  function showJob(job) {
    const p = job.progress || {};
    const active = ACTIVE.has(job.status);
    $("#progress").value = job.status === "done" ? 1 : p.fraction || 0;
    $("#job-status").textContent = `job ${job.id} (${job.kind}) ${job.status}`
      + (p.phase && p.phase !== job.status ? ` · ${p.phase}` : "") + (active && p.line ? ` · ${p.line}` : "")
      + (job.message ? ` · ${job.message}` : "");
    document.body.dataset.jobStatus = job.status;
    $("#cancel-button").disabled = !active;
    $("#plan-button").disabled = active || !state.scenario;
    $("#replan-button").disabled = active || !state.plan;
  }

  async function finishJob(job) {
    try {
      await openScenario(job.scenario_id);
      if (!job.has_plan) {
        message(`Job ${job.id} ended '${job.status}' without a plan.`, "error", job.message ? [job.message] : []);
        return;
      }
      const plan = await api("GET", `/api/jobs/${job.id}/plan`);
      const changes = job.kind === "replan" ? await api("GET", `/api/jobs/${job.id}/changes`) : null;
      state.plan = plan;
      state.planJobId = job.id;
      state.applied = job.replan ? job.replan.events : null;
      renderPlan(job);
      renderChanges(changes, job);
      document.body.dataset.planJob = String(job.id);
      $("#replan-button").disabled = false;
      await refreshJobs();
    } catch (err) {
      showError(err);
    }
  }

  function renderJobInfo(job) {
    const check = job.check || {};
    const verdict = check.error ? `checker error: ${check.error}`
      : check.violations === 0 ? "checker: clean" : `checker: ${check.violations} violation(s)`;
    const parent = job.replan ? ` · re-plan of job ${job.replan.parent_job} by ${job.replan.by}` : "";
    $("#job-info").textContent = `${state.plan.scenario} · job ${job.id} (${job.kind})${parent} · ${verdict}`;
  }

  // ------------------------------------------------------------------ the map
  function initMap() {
    if (state.map) return;
    state.map = L.map("map", { attributionControl: false, zoomSnap: 0.25 }).setView([0, 0], 2);
    state.layers = { sites: L.layerGroup().addTo(state.map), trips: L.layerGroup().addTo(state.map),
      marks: L.layerGroup().addTo(state.map) };
  }

  const latlng = (id) => { const p = state.sites.get(id); return p ? [p.lat, p.lon] : null; };

  function drawSites() {
    const { sites } = state.layers;
    sites.clearLayers();
    state.pickupMarkers = new Map();
    state.warehouseMarkers = [];
    for (const site of state.sites.values()) {
      const big = { central: 10, forward: 7, pickup: 3.5 }[site.role];
      const marker = L.circleMarker([site.lat, site.lon], { radius: big, weight: { central: 2, forward: 3, pickup: 1 }[site.role],
        color: site.role === "central" ? "#fff" : "#222", fillColor: { central: "#222", forward: "#fff", pickup: "#bbb" }[site.role],
        fillOpacity: 0.95,
        className: `site site-${site.role}` }).addTo(sites);
      marker.getElement().setAttribute("data-site", site.id);
      const what = site.role === "pickup" ? `${site.kind}, window ${site.window.join("–")}` : `${site.role} warehouse`;
      marker.bindTooltip(`${site.id} ${site.name || ""}<br>${what}`);
      if (site.role === "pickup") {
        state.pickupMarkers.set(site.id, marker);
        marker.on("click", () => pickPoint(site.id));
      } else {
        state.warehouseMarkers.push(marker);
      }
    }
    const bounds = L.latLngBounds([...state.sites.values()].map((p) => [p.lat, p.lon]));
    if (bounds.isValid()) state.map.fitBounds(bounds, { padding: [20, 20] });
  }

  /** A pickup point clicked on the map: fill the event forms with it and open its trip. */
  function pickPoint(id) {
    $("#late-pp").value = id;
    $("#close-pp").value = id;
    const found = state.plan && findStop(id);
    if (found) selectTrip(found.trip.id);
  }

  function drawPlan() {
    const { trips, marks } = state.layers;
    trips.clearLayers();
    marks.clearLayers();
    state.drawn = new Map();
    for (const marker of state.pickupMarkers.values()) marker.setStyle({ fillColor: "#bbb" });
    for (const { duty, trip } of eachTrip()) {
      const colour = state.colours.get(duty.id);
      const points = [duty.depot, ...trip.stops.map((st) => st.location), duty.depot].map(latlng).filter(Boolean);
      const trunk = duty.tier === "trunk";
      const line = L.polyline(points, { color: colour, weight: trunk ? 2 : 3, base: trunk ? 2 : 3, opacity: 0.85,
        dashArray: trunk ? "6 5" : null, className: `trip-line trip-${duty.tier}` }).addTo(trips);
      const path = line.getElement();
      path.setAttribute("data-trip-id", trip.id);
      path.setAttribute("data-duty", duty.id);
      line.bindTooltip(`${trip.id}: ${trip.stops.length} stops, ${clock(trip.departure)}–${clock(trip.return)}`,
        { sticky: true });
      line.on("click", () => selectTrip(trip.id));
      state.drawn.set(trip.id, line);
      if (!trunk) {
        for (const st of trip.stops) {
          const m = state.pickupMarkers.get(st.location);
          if (m) m.setStyle({ fillColor: colour });
        }
      }
    }
    state.warehouseMarkers.forEach((m) => m.bringToFront());  // the depots stay visible above the routes
    const lost = new Map();
    for (const u of state.plan.unserved) {
      const e = lost.get(u.pickup_point) || { units: 0, reasons: new Set() };
      e.units += u.units;
      e.reasons.add(u.reason);
      lost.set(u.pickup_point, e);
    }
    for (const [id, e] of lost) {
      const at = latlng(id);
      if (!at) continue;
      const m = L.circleMarker(at, { radius: 8, color: "#d00", weight: 2.5, fill: false,
        className: "unserved-point" }).addTo(marks);
      m.getElement().setAttribute("data-pickup-point", id);
      m.bindTooltip(`${id}: ${e.units} units unserved (${[...e.reasons].join(", ")})`);
    }
  }

  function* eachTrip() {
    for (const duty of state.plan.duties) for (const trip of duty.trips) yield { duty, trip };
  }

  function findTrip(id) {
    for (const x of eachTrip()) if (x.trip.id === id) return x;
    return null;
  }

  function findStop(pickupId) {
    for (const x of eachTrip()) if (x.duty.tier === "last_mile" && x.trip.stops.some((st) => st.location === pickupId)) return x;
    return null;
  }

  // ------------------------------------------------------------------ rendering a plan
  function renderPlan(job) {
    state.colours = new Map(state.plan.duties.map((d, i) => [d.id, colourOf(i)]));
    drawPlan();
    renderJobInfo(job);
    renderKpis(job);
    renderUnserved();
    renderTimeline();
    const lastMile = state.plan.duties.filter((d) => d.tier === "last_mile");
    $("#down-duty").replaceChildren(...lastMile.map((d) => h("option", { value: d.id, text: d.id })));
    renderEvents();
    if (state.selectedTrip && findTrip(state.selectedTrip)) selectTrip(state.selectedTrip);
    else clearTrip();
  }

  function renderKpis(job) {
    const k = state.plan.kpis;
    const rows = TARGETS.map((t) => {
      const key = k[t.key] === undefined || k[t.key] === null ? t.alt : t.key;
      const v = k[key];
      const known = v !== undefined && v !== null;
      const ok = known && t.ok(v);
      return h("tr", { "data-kpi": key, class: known ? (ok ? "ok" : "bad") : "" },
        h("th", { text: t.label }), h("td", { class: "value", text: known ? pct(v) : "–" }),
        h("td", { class: "target", text: t.target }), h("td", { class: "mark", text: known ? (ok ? "✓" : "✗") : "" }));
    });
    rows.push(...FACTS.filter(([key]) => k[key] !== undefined && k[key] !== null).map(([key, label, fmt]) =>
      h("tr", { "data-kpi": key }, h("th", { text: label }), h("td", { class: "value", text: fmt(k[key]) }),
        h("td"), h("td"))));
    const check = job.check || {};
    if (check.violations !== undefined) {
      rows.push(h("tr", { "data-kpi": "violations", class: check.violations ? "bad" : "ok" },
        h("th", { text: "checker violations" }), h("td", { class: "value", text: String(check.violations) }),
        h("td", { class: "target", text: "0" }), h("td", { class: "mark", text: check.violations ? "✗" : "✓" })));
    }
    $("#kpis tbody").replaceChildren(...rows);
  }

  function renderUnserved() {
    const lines = state.plan.unserved;
    const shown = lines.slice(0, 300).map((u) => h("tr", { "data-pickup-point": u.pickup_point, title: u.detail },
      h("td", { text: u.pickup_point }), h("td", { text: u.product }), h("td", { text: String(u.units) }),
      h("td", { text: u.reason })));
    if (lines.length > shown.length) shown.push(h("tr", {}, h("td", { colspan: 4, text: `… and ${lines.length - shown.length} more` })));
    if (!lines.length) shown.push(h("tr", {}, h("td", { colspan: 4, class: "muted", text: "Every ordered unit is planned." })));
    $("#unserved tbody").replaceChildren(...shown);
    $("#unserved-count").textContent = String(lines.reduce((a, u) => a + u.units, 0));
    $("#unserved-count").hidden = !lines.length;
  }

  /** One row per vehicle: its trips as bars, stop arrivals as ticks, waiting for a window as hatching. */
  function renderTimeline() {
    const box = $("#timeline");
    if (!state.plan) { box.replaceChildren(); return; }
    const tier = $("#timeline-tier").value;
    const duties = state.plan.duties.filter((d) => tier === "all" || d.tier === tier);
    const trips = duties.flatMap((d) => d.trips);
    if (!trips.length) { box.replaceChildren(); return; }
    const t0 = Math.floor(Math.min(...trips.map((t) => t.departure)) / 60) * 60;
    const t1 = Math.ceil(Math.max(...trips.map((t) => t.return)) / 60) * 60;
    const x = (t) => (100 * (t - t0)) / (t1 - t0);
    // what the next re-plan will send, and what made the plan on screen (when it is a re-plan)
    const applied = state.applied || {};
    const marks = { vehicle_down: [...state.events.vehicle_down, ...(applied.vehicle_down || [])],
      locks: [...state.events.locks, ...(applied.locks || [])] };
    const axis = h("div", { class: "tl-row tl-axis" }, h("span", { class: "tl-label" }));
    const ticks = h("div", { class: "tl-track" });
    for (let t = t0; t <= t1; t += 60) ticks.append(h("span", { class: "tl-tick", style: `left:${x(t)}%`, text: clock(t) }));
    axis.append(ticks);
    const rows = duties.map((duty) => {
      const track = h("div", { class: "tl-track" });
      const down = marks.vehicle_down.find((e) => e.duty === duty.id);
      if (down) track.append(h("div", { class: "tl-down", style: `left:${x(minutesOf(down.from))}%`, title: `down from ${down.from}` }));
      for (const trip of duty.trips) {
        const span = trip.return - trip.departure || 1;
        const locked = marks.locks.some((l) => l.trip === trip.id);
        const bar = h("div", { class: `tl-trip${locked ? " locked" : ""}${trip.id === state.selectedTrip ? " selected" : ""}`,
          "data-trip-id": trip.id, style: `left:${x(trip.departure)}%;width:${x(trip.return) - x(trip.departure)}%;`
            + `background:${state.colours.get(duty.id)}`,
          title: `${trip.id}: ${clock(trip.departure)}–${clock(trip.return)}, ${trip.stops.length} stops`,
          onclick: () => selectTrip(trip.id) });
        for (const st of trip.stops) {
          const a = (100 * (st.arrival - trip.departure)) / span;
          if (st.start - st.arrival > 0.5) {
            bar.append(h("span", { class: "tl-wait", style: `left:${a}%;width:${(100 * (st.start - st.arrival)) / span}%` }));
          }
          bar.append(h("span", { class: "tl-stop", style: `left:${a}%` }));
        }
        track.append(bar);
      }
      return h("div", { class: "tl-row", "data-duty": duty.id },
        h("span", { class: "tl-label", text: duty.id, title: `${duty.vehicle_type} #${duty.vehicle} from ${duty.depot}` }), track);
    });
    box.replaceChildren(axis, ...rows);
  }

  // ------------------------------------------------------------------ one trip
  function clearTrip() {
    state.selectedTrip = null;
    $("#trip-title").textContent = "click a route or a bar";
    $("#trip-detail").replaceChildren();
  }

  function selectTrip(id) {
    const found = findTrip(id);
    if (!found) return;
    const previous = state.drawn.get(state.selectedTrip);
    if (previous) previous.setStyle({ weight: previous.options.base });
    state.selectedTrip = id;
    const line = state.drawn.get(id);
    if (line) { line.setStyle({ weight: 7 }); line.bringToFront(); }
    document.querySelectorAll(".tl-trip.selected").forEach((b) => b.classList.remove("selected"));
    document.querySelectorAll(`.tl-trip[data-trip-id="${CSS.escape(id)}"]`).forEach((b) => b.classList.add("selected"));
    const { duty, trip } = found;
    const lastMile = duty.tier === "last_mile";
    const locked = state.events.locks.some((l) => l.trip === id);
    $("#trip-title").textContent = `${trip.id} (${duty.vehicle_type} #${duty.vehicle}, ${duty.depot})`;
    const actions = h("div", { class: "row" },
      h("button", { id: "lock-trip-button", type: "button", disabled: locked || !lastMile,
        text: locked ? "Trip locked" : "Lock this trip", onclick: () => addEvent("locks", { trip: id }) }),
      lastMile ? h("button", { id: "down-this-button", type: "button", text: "This vehicle is down…",
        onclick: () => { $("#down-duty").value = duty.id; $("#down-time").focus(); } }) : null);
    const summary = h("p", { id: "trip-summary", "data-trip-id": trip.id, "data-duty": duty.id,
      text: `${clock(trip.departure)}–${clock(trip.return)} · ${trip.stops.length} stops · ${trip.distance_km.toFixed(1)} km · `
        + `${money(trip.cost.total)} RMB` });
    const stops = h("table", { id: "trip-stops" }, h("thead", {}, h("tr", {}, ...["#", "stop", "arrives", "window", "wait",
      "units", ""].map((t) => h("th", { text: t })))), h("tbody", {}, ...trip.stops.map((st, i) => {
      const site = state.sites.get(st.location) || {};
      return h("tr", { "data-stop": st.location },
        h("td", { text: String(i + 1) }), h("td", { text: st.location }), h("td", { text: clock(st.arrival) }),
        h("td", { text: site.window ? site.window.join("–") : "" }),
        h("td", { text: st.start - st.arrival > 0.5 ? `${Math.round(st.start - st.arrival)} min` : "" }),
        h("td", { text: lastMile ? String(units(st)) : "" }),
        h("td", {}, lastMile ? h("button", { type: "button", class: "lock-stop-button", title: "keep this stop on this vehicle",
          text: "keep", onclick: () => addEvent("locks", { pickup_point: st.location, duty: duty.id }) }) : null));
    })));
    fill($("#trip-detail"), actions, summary, lastMile ? windowChart(trip) : null, thermalCharts(trip),
      h("div", { class: "scroll" }, stops));
  }

  /** Each stop of the trip: its pickup window as a band, the arrival as a dot, waiting as a line. */
  function windowChart(trip) {
    const W = 330, row = 9, top = 16;
    const windows = trip.stops.map((st) => (state.sites.get(st.location) || {}).window || ["00:00", "00:00"]).map(
      (w) => w.map(minutesOf));
    const t0 = Math.min(trip.departure, ...windows.map((w) => w[0]));
    const t1 = Math.max(trip.return, ...windows.map((w) => w[1]));
    const x = (t) => 40 + ((W - 58) * (t - t0)) / (t1 - t0 || 1);
    const svg = s("svg", { id: "window-chart", viewBox: `0 0 ${W} ${top + row * trip.stops.length + 4}`, class: "chart" });
    for (let t = Math.ceil(t0 / 60) * 60; t <= t1; t += 60) {
      svg.append(s("line", { x1: x(t), x2: x(t), y1: top - 4, y2: top + row * trip.stops.length, class: "grid" }));
      const label = s("text", { x: x(t), y: 10, class: "axis", "text-anchor": "middle" });
      label.textContent = clock(t);
      svg.append(label);
    }
    svg.append(s("rect", { x: x(trip.departure), y: top - 4, width: x(trip.return) - x(trip.departure), height: 3, class: "trip-span" }));
    trip.stops.forEach((st, i) => {
      const y = top + i * row;
      const [open, close] = windows[i];
      const name = s("text", { x: 0, y: y + 7, class: "axis" });
      name.textContent = st.location;
      svg.append(name, s("rect", { x: x(open), y: y + 1, width: Math.max(1, x(close) - x(open)), height: row - 2, class: "window" }));
      if (st.start - st.arrival > 0.5) svg.append(s("line", { x1: x(st.arrival), x2: x(st.start), y1: y + 4.5, y2: y + 4.5, class: "wait" }));
      svg.append(s("circle", { cx: x(st.arrival), cy: y + 4.5, r: 2.6, class: st.arrival > close + 0.01 ? "arrival late" : "arrival" }));
    });
    return svg;
  }

  /** The thermal model's trace of each cold compartment: air, product (until empty), the hand-over limit. */
  function thermalCharts(trip) {
    const zones = Object.entries((trip.thermal || {}).compartments || {});
    if (!zones.length) return h("p", { class: "muted", text: "No temperature trace: this trip carries no cold goods "
      + "(or the scenario's cold-chain model is off)." });
    return h("div", { id: "thermal-chart" }, ...zones.map(([zone, c]) => {
      const W = 330, H = 120, left = 34, B = 16;
      const values = [...c.air_c, ...c.product_c.filter((v) => v !== null), c.limit_c];
      const lo = Math.floor(Math.min(...values) - 1), hi = Math.ceil(Math.max(...values) + 1);
      const x = (t) => left + ((W - left - 4) * (t - c.t[0])) / (c.t[c.t.length - 1] - c.t[0] || 1);
      const y = (v) => 4 + ((H - B - 4) * (hi - v)) / (hi - lo || 1);
      const path = (vals) => {
        let d = "", pen = false;
        vals.forEach((v, i) => {
          if (v === null) { pen = false; return; }
          d += `${pen ? "L" : "M"}${x(c.t[i]).toFixed(1)},${y(v).toFixed(1)}`;
          pen = true;
        });
        return d;
      };
      const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart thermal", "data-zone": zone });
      const text = (x0, y0, t, anchor = "start", cls = "axis") => {
        const n = s("text", { x: x0, y: y0, "text-anchor": anchor, class: cls });
        n.textContent = t;
        return n;
      };
      svg.append(s("line", { x1: left, x2: W - 4, y1: y(c.limit_c), y2: y(c.limit_c), class: "limit" }),
        s("path", { d: path(c.air_c), class: "air" }), s("path", { d: path(c.product_c), class: "product" }),
        s("line", { x1: left, x2: left, y1: 4, y2: H - B, class: "grid" }),
        text(left - 3, y(hi) + 8, `${hi}°`, "end"), text(left - 3, y(lo), `${lo}°`, "end"),
        text(left - 3, y(c.limit_c) + 3, `${c.limit_c}°`, "end", "axis limit-label"),
        text(left, H - 3, clock(c.t[0])), text(W - 4, H - 3, clock(c.t[c.t.length - 1]), "end"),
        text((left + W) / 2, H - 3, `${zone} · ${c.kind} · ${c.crates} crates — product, - - air, red: limit`, "middle"));
      return svg;
    }));
  }

  // ------------------------------------------------------------------ events and re-planning
  function emptyEvents() { return { late_orders: [], vehicle_down: [], locks: [], closed: [] }; }

  function addEvent(kind, item) {
    const same = JSON.stringify(item);
    if (state.events[kind].some((e) => JSON.stringify(e) === same)) return;
    if (kind === "vehicle_down") state.events.vehicle_down = state.events.vehicle_down.filter((e) => e.duty !== item.duty);
    if (kind === "closed") state.events.closed = state.events.closed.filter((p) => p !== item);
    state.events[kind].push(item);
    renderEvents();
  }

  function eventText(kind, e) {
    if (kind === "locks") return e.trip ? `lock trip ${e.trip}` : `keep ${e.pickup_point} on ${e.duty}`;
    if (kind === "vehicle_down") return `${e.duty} down from ${e.from}`;
    if (kind === "late_orders") return `late order: ${e.units} × ${e.product} for ${e.pickup_point}`;
    return `close ${e}`;
  }

  function renderEvents() {
    const items = [];
    for (const kind of Object.keys(state.events)) {
      state.events[kind].forEach((e, i) => items.push(h("li", { "data-kind": kind, "data-event": JSON.stringify(e) },
        h("span", { text: eventText(kind, e) }), h("button", { type: "button", class: "remove", title: "remove", text: "×",
          onclick: () => { state.events[kind].splice(i, 1); renderEvents(); } }))));
    }
    if (!items.length) items.push(h("li", { class: "muted", text: "No events yet: lock trips, add a breakdown, late orders or a closed point." }));
    $("#event-list").replaceChildren(...items);
    renderTimeline();
    if (state.selectedTrip && state.plan) selectTrip(state.selectedTrip);
  }

  function onDown(ev) {
    ev.preventDefault();
    const duty = $("#down-duty").value, from = $("#down-time").value.trim();
    if (!duty) return message("Plan first: there is no vehicle to mark down.", "error");
    if (minutesOf(from) === null) return message(`'${from}' is not a clock time HH:MM.`, "error");
    addEvent("vehicle_down", { duty, from });
  }

  function onLate(ev) {
    ev.preventDefault();
    const pp = $("#late-pp").value.trim(), product = $("#late-product").value, n = Number($("#late-units").value);
    if (!state.sites.has(pp) || state.sites.get(pp).role !== "pickup") return message(`No pickup point '${pp}'.`, "error");
    if (!Number.isInteger(n) || n < 1) return message("Units must be a whole number of at least 1.", "error");
    addEvent("late_orders", { pickup_point: pp, product, units: n });
  }

  function onClose(ev) {
    ev.preventDefault();
    const pp = $("#close-pp").value.trim();
    if (!state.sites.has(pp) || state.sites.get(pp).role !== "pickup") return message(`No pickup point '${pp}'.`, "error");
    addEvent("closed", pp);
  }

  async function startReplan() {
    const events = Object.fromEntries(Object.entries(state.events).filter(([, v]) => v.length));
    const budget = Number($("#replan-budget").value);
    try {
      const job = await api("POST", `/api/jobs/${state.planJobId}/replan`, { events, time_limit_s: budget, seed: 0 });
      state.events = emptyEvents();
      renderEvents();
      follow(job.id);
    } catch (err) {
      showError(err);
    }
  }

  function renderChanges(c, job) {
    const box = $("#changes");
    state.layers.marks.eachLayer((m) => { if (m.options.className === "moved-point") state.layers.marks.removeLayer(m); });
    if (!c) {
      box.replaceChildren(h("p", { class: "muted", text: "A fresh plan: re-plan it to see what changes." }));
      return;
    }
    const row = (label, before, after, delta, id, fmt = String) => h("tr", { id },
      h("th", { text: label }), h("td", { text: fmt(before) }), h("td", { text: fmt(after) }),
      h("td", { class: delta > 0 ? "up" : delta < 0 ? "down" : "", "data-value": String(delta), text: signed(delta, fmt) }));
    const table = h("table", { id: "changes-summary" }, h("thead", {}, h("tr", {}, ...["", "before", "after", "delta"].map(
      (t) => h("th", { text: t })))), h("tbody", {},
      row("cost, RMB", c.cost_before, c.cost_after, c.cost_delta, "cost-delta", money),
      row("vehicles", c.vehicles_before, c.vehicles_after, c.vehicles_delta, "vehicles-delta"),
      row("last-mile stops", c.stops_before, c.stops_after, c.stops_after - c.stops_before, "stops-delta"),
      row("units unserved", c.units_unserved_before, c.units_unserved_after, c.units_unserved_delta, "unserved-delta")));
    const moved = h("table", { id: "moved-stops" }, h("thead", {}, h("tr", {}, ...["stop", "from trip", "to trip", "units"].map(
      (t) => h("th", { text: t })))), h("tbody", {}, ...c.moved.map((m) => h("tr", { class: "moved-stop",
      "data-pickup-point": m.location, "data-from-trip": m.from_trip, "data-to-trip": m.to_trip, onclick: () => selectTrip(m.to_trip) },
      h("td", { text: m.location }), h("td", { text: m.from_trip }), h("td", { text: m.to_trip }),
      h("td", { text: String(m.units_after) })))));
    const other = [...c.added.map((r) => `added ${r.location} on ${r.trip} (${r.units} units)`),
      ...c.removed.map((r) => `removed ${r.location} from ${r.trip} (${r.units} units now unserved)`),
      ...c.changed.map((r) => `${r.location} on ${r.trip}: ${r.units_before} → ${r.units_after} units`)];
    fill(box,
      h("p", { text: `Job ${job.id} against job ${job.replan ? job.replan.parent_job : "?"}: ` }, h("strong", { id: "moved-count",
        text: String(c.moved.length) }), ` stop(s) moved of ${c.stops_after}; cost ${signed(c.cost_delta)} RMB.`),
      table, c.moved.length ? h("div", { class: "scroll" }, moved) : null,
      other.length ? h("ul", { id: "other-changes" }, ...other.map((t) => h("li", { text: t }))) : null,
      c.notes.length ? h("ul", { id: "change-notes" }, ...c.notes.map((t) => h("li", { text: t }))) : null);
    for (const m of c.moved) {
      const at = latlng(m.location);
      if (at) L.circleMarker(at, { radius: 9, color: "#f0a000", weight: 3, fill: false, className: "moved-point" })
        .bindTooltip(`${m.location}: ${m.from_trip} → ${m.to_trip}`).addTo(state.layers.marks);
    }
  }

  // ------------------------------------------------------------------ wiring
  window.fulfilConsole = {
    /** Trip ids drawn on the map, in drawing order. */
    drawnTrips: () => [...state.drawn.keys()],
    /** The job whose plan is on screen. */
    planJob: () => state.planJobId,
    /** The events the next re-plan will send. */
    pendingEvents: () => JSON.parse(JSON.stringify(state.events)),
  };

  document.addEventListener("DOMContentLoaded", () => {
    $("#login-form").addEventListener("submit", (ev) => { ev.preventDefault(); login($("#token-input").value.trim()); });
    $("#logout-button").addEventListener("click", () => logout());
    $("#load-demo-button").addEventListener("click", loadDemo);
    $("#plan-button").addEventListener("click", startPlan);
    $("#cancel-button").addEventListener("click", cancelJob);
    $("#replan-button").addEventListener("click", startReplan);
    $("#down-form").addEventListener("submit", onDown);
    $("#late-form").addEventListener("submit", onLate);
    $("#close-form").addEventListener("submit", onClose);
    $("#timeline-tier").addEventListener("change", renderTimeline);
    $("#job-select").addEventListener("change", (ev) => { if (ev.target.value) follow(Number(ev.target.value)); });
    renderEvents();
    $("#login-error").textContent = sessionStorage.getItem(KEY.why) || "";
    sessionStorage.removeItem(KEY.why);
    const saved = sessionStorage.getItem(KEY.token);
    if (saved) login(saved);
  });
})();
