"""``map.html``: an interactive map of the night that opens with no internet.

One self-contained file: Leaflet (shipped in ``fulfil/static/leaflet``, unmodified; its licence
is carried along in a comment) is inlined, its CSS images become ``data:`` URIs, the plan is
embedded as JSON (the :mod:`fulfil.report.geojson` FeatureCollection plus the KPIs), and there is
no tile layer: the background is plain, so nothing is fetched from anywhere.  Each vehicle's trips
are drawn in its own colour (trunk trips dashed), with a layer per vehicle to switch on and off;
warehouses are squares (central) and triangles (forward), stops are dots, pickup points with
unserved lines are red rings; tooltips give each stop's ETA, window, crates and products.
"""

from __future__ import annotations

import base64
import html
import json
import re
from importlib import resources
from typing import TYPE_CHECKING, Any

from fulfil.report.geojson import plan_geojson
from fulfil.report.tables import plan_doc
from fulfil.report.workbook import kpi_checks

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

    from fulfil.plan_model import Plan
    from fulfil.scenario.schema import Scenario


def _asset(name: str) -> Traversable:
    return resources.files("fulfil").joinpath("static", "leaflet", name)


def _leaflet_css() -> str:
    """leaflet.css with its ``url(images/…png)`` references replaced by ``data:`` URIs."""
    css = _asset("leaflet.css").read_text(encoding="utf-8")

    def inline(m: re.Match[str]) -> str:
        png = _asset("images").joinpath(m.group(1)).read_bytes()
        return f"url(data:image/png;base64,{base64.b64encode(png).decode('ascii')})"

    return re.sub(r"url\(images/([A-Za-z0-9_.-]+\.png)\)", inline, css)


def _licence_comment() -> str:
    text = _asset("LICENSE").read_text(encoding="utf-8")
    return "<!-- Leaflet, shipped unmodified under its licence:\n\n" + text.replace("--", "- -") + "-->"


def _json_for_script(data: Any) -> str:
    """JSON that cannot end the ``<script>`` element it sits in (every ``<`` escaped)."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")


def map_data(plan: Plan | dict[str, Any], scenario: Scenario) -> dict[str, Any]:
    """What the page draws: title, KPIs against targets, product names and the routes' GeoJSON."""
    doc = plan_doc(plan)
    k = doc["kpis"]
    return {
        "title": f"{doc['scenario']} (seed {doc.get('seed', 0)})",
        "summary": f"{k['vehicles']} vehicles, {k['trips']} trips, {k['distance_km']:.0f} km, {k['cost']:,.0f} RMB, "
                   f"{k['units_unserved']} units unserved",
        "kpis": [{"label": t.label, "value": v, "target": t.text, "met": met} for t, v, met in kpi_checks(k)],
        "products": {p.id: p.name or p.id for p in scenario.products},
        "geojson": plan_geojson(doc, scenario),
    }


_PAGE_CSS = """
html, body { height: 100%; margin: 0; font: 13px/1.35 system-ui, sans-serif; }
#map { position: absolute; inset: 0; }
.leaflet-container { background: #eef0f3; }
.fulfil-panel { background: rgba(255,255,255,.94); padding: 8px 10px; border-radius: 6px;
  box-shadow: 0 1px 4px rgba(0,0,0,.3); max-width: 340px; }
.fulfil-panel h1 { font-size: 15px; margin: 0 0 4px; }
.fulfil-panel table { border-collapse: collapse; margin-top: 4px; }
.fulfil-panel td { padding: 1px 6px 1px 0; }
.fulfil-panel .ok { color: #17702a; font-weight: 600; }
.fulfil-panel .bad { color: #b00020; font-weight: 600; }
.fulfil-legend span { display: inline-block; margin-right: 10px; }
.site-icon { border: 2px solid #222; box-sizing: border-box; }
.site-central { background: #ffd23f; }
.site-forward { background: #ff8c1a; clip-path: polygon(50% 0, 100% 100%, 0 100%); border: none; }
"""

_PAGE_JS = """
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("fulfil-data").textContent);
  var map = L.map("map", {preferCanvas: true, attributionControl: false, zoomSnap: 0.25});
  L.control.attribution({prefix: "Leaflet " + L.version + " · fulfil"}).addTo(map);
  L.control.scale({imperial: false}).addTo(map);
  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  }
  function crates(d) {
    return Object.keys(d || {}).map(function (z) { return z + " " + d[z]; }).join(", ") || "none";
  }
  function ll(c) { return [c[1], c[0]]; }
  var vehicles = {}, order = [], bounds = [], drawn = {trip: 0, stop: 0, site: 0, unserved: 0};
  function vehicleLayer(p) {
    var key = p.duty;
    if (!vehicles[key]) {
      vehicles[key] = L.layerGroup().addTo(map);
      order.push([key, p.vehicle + " · " + p.duty, p.stroke || p["marker-color"]]);
    }
    return vehicles[key];
  }
  var sites = L.layerGroup(), unserved = L.layerGroup();
  data.geojson.features.forEach(function (f) {
    var p = f.properties, g = f.geometry;
    if (p.feature === "trip") {
      var line = L.polyline(g.coordinates.map(ll), {color: p.stroke, weight: p.tier === "trunk" ? 3.5 : 2.5,
        opacity: 0.9, dashArray: p.tier === "trunk" ? "9 6" : null});
      line.bindTooltip("<b>trip " + esc(p.trip) + "</b> · " + esc(p.vehicle) + " (" + esc(p.tier) + ")<br>" +
        "departs " + esc(p.departure_hhmm) + ", back " + esc(p.return_hhmm) + " · " + p.stops + " stops · " +
        p.distance_km.toFixed(1) + " km · " + p.cost.toFixed(2) + " RMB<br>loaded: " + esc(crates(p.crates)),
        {sticky: true});
      line.addTo(vehicleLayer(p));
      drawn.trip += 1;
      g.coordinates.forEach(function (c) { bounds.push(ll(c)); });
    } else if (p.feature === "stop") {
      var tip = "<b>" + esc(p.location) + "</b> " + esc(p.name || "") + "<br>trip " + esc(p.trip) + ", stop " +
        p.seq + " · " + esc(p.vehicle) + "<br>ETA " + esc(p.arrival_hhmm) +
        (p.window ? " (window " + esc(p.window[0]) + "–" + esc(p.window[1]) + ")" : "") +
        ", departs " + esc(p.departure_hhmm) + "<br>crates: " + esc(crates(p.delivered));
      if (p.products) {
        tip += "<br>products: " + esc(Object.keys(p.products).map(function (k) {
          return p.products[k] + " × " + (data.products[k] || k); }).join(", "));
      }
      L.circleMarker(ll(g.coordinates), {radius: p.tier === "trunk" ? 6 : 4.5, color: "#222", weight: 1,
        fillColor: p["marker-color"], fillOpacity: 0.95}).bindTooltip(tip).addTo(vehicleLayer(p));
      drawn.stop += 1;
    } else if (p.feature === "site") {
      var central = p.site_kind === "central_warehouse";
      L.marker(ll(g.coordinates), {icon: L.divIcon({className: "site-icon " + (central ? "site-central" : "site-forward"),
        iconSize: central ? [16, 16] : [16, 14]}), zIndexOffset: 1000})
        .bindTooltip("<b>" + esc(p.id) + "</b> " + esc(p.name || "") + "<br>" +
          (central ? "central warehouse" : "forward warehouse")).addTo(sites);
      drawn.site += 1;
      bounds.push(ll(g.coordinates));
    } else if (p.feature === "unserved") {
      var lines = p.lines.map(function (x) { return esc(x.product) + " " + x.units + " (" + esc(x.reason) + ")"; });
      L.circleMarker(ll(g.coordinates), {radius: 9, color: "#d00000", weight: 2.5, fill: false})
        .bindTooltip("<b>" + esc(p.location) + "</b> " + esc(p.name || "") + " — " + p.units +
          " units not served<br>" + lines.join("<br>")).addTo(unserved);
      drawn.unserved += 1;
      bounds.push(ll(g.coordinates));
    }
  });
  sites.addTo(map);
  unserved.addTo(map);
  var overlays = {"warehouses": sites, "<span style='color:#d00000'>unserved pickup points</span>": unserved};
  order.forEach(function (o) {
    overlays["<span style='color:" + o[2] + "'>&#9632;</span> " + esc(o[1])] = vehicles[o[0]];
  });
  L.control.layers(null, overlays, {collapsed: order.length > 14}).addTo(map);
  if (bounds.length) { map.fitBounds(bounds, {padding: [30, 30]}); } else { map.setView([0, 0], 2); }
  var panel = L.control({position: "bottomleft"});
  panel.onAdd = function () {
    var div = L.DomUtil.create("div", "fulfil-panel");
    var rows = data.kpis.map(function (k) {
      var v = k.value === null ? "–" : (100 * k.value).toFixed(2) + " %";
      var cls = k.met === null ? "" : (k.met ? "ok" : "bad");
      return "<tr><td>" + esc(k.label) + "</td><td class='" + cls + "'>" + v + "</td><td>" + esc(k.target) +
        "</td></tr>";
    }).join("");
    div.innerHTML = "<h1>" + esc(data.title) + "</h1>" + esc(data.summary) + "<table>" + rows + "</table>" +
      "<div class='fulfil-legend'><span>&#9632; central / &#9650; forward warehouse</span>" +
      "<span style='color:#d00000'>&#9711; unserved</span><span>- - - trunk</span></div>";
    L.DomEvent.disableClickPropagation(div);
    return div;
  };
  panel.addTo(map);
  // what was drawn, for scripts and browser tests (read from the DOM)
  Object.keys(drawn).forEach(function (k) { document.body.setAttribute("data-drawn-" + k, drawn[k]); });
  window.fulfilMap = {map: map, vehicles: vehicles, drawn: drawn};
})();
"""


def map_html(plan: Plan | dict[str, Any], scenario: Scenario) -> str:
    """The page's HTML text."""
    data = map_data(plan, scenario)
    js = _asset("leaflet.js").read_text(encoding="utf-8")
    if "</script" in js.lower():  # cannot happen with the shipped file; guards a future upgrade
        raise ValueError("leaflet.js contains '</script' and cannot be inlined")
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(data['title'])} — fulfil map</title>",
        f"<style>\n{_leaflet_css()}\n</style>",
        f"<style>{_PAGE_CSS}</style>",
        "</head>",
        "<body>",
        '<div id="map"></div>',
        _licence_comment(),
        f"<script>\n{js}\n</script>",
        f'<script type="application/json" id="fulfil-data">{_json_for_script(data)}</script>',
        f"<script>{_PAGE_JS}</script>",
        "</body>",
        "</html>",
        "",
    ])
