// The map page: draws the GeoJSON the page embeds (households by this month's visit state, the month's visit
// points, a dashed line from a questionable visit to its household, a faint outline around each village's
// households). Plain ES5 and Leaflet, no build step; works by touch on a phone. No base layer unless the
// server names a tile URL, so it also works without the internet.
(function () {
  "use strict";
  var element = document.getElementById("map");
  if (!element || !window.L) { return; }
  var data = JSON.parse(document.getElementById("map-data").textContent);
  var labels = JSON.parse(document.getElementById("map-labels").textContent);

  var households = [], visits = [], links = [];
  data.features.forEach(function (f) {
    if (!f.geometry) { return; }
    var kind = f.properties.kind;
    if (kind === "household") { households.push(f); }
    else if (kind === "visit") { visits.push(f); }
    else if (kind === "link") { links.push(f); }
  });
  // SVG keeps every marker an element (clickable in tests, crisp); canvas is much faster for thousands
  var useCanvas = households.length + visits.length > 1500;
  var tileUrl = element.getAttribute("data-tile-url");
  var map = L.map(element, {preferCanvas: useCanvas, attributionControl: !!tileUrl});
  if (tileUrl) {
    L.tileLayer(tileUrl, {maxZoom: 19, attribution: element.getAttribute("data-tile-attribution") || ""}).addTo(map);
  } else {
    element.classList.add("no-tiles");
  }
  L.control.scale({imperial: false}).addTo(map);

  function latlng(coordinates) { return [coordinates[1], coordinates[0]]; }

  // the view first: Leaflet adds layers (and makes their elements) only once the map has one
  var points = households.concat(visits).map(function (f) { return latlng(f.geometry.coordinates); });
  if (points.length) {
    map.fitBounds(L.latLngBounds(points), {padding: [24, 24], maxZoom: 17});
  } else {
    map.setView([35, 105], 4);
  }

  function fill(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_, key) { return values[key]; });
  }

  function node(tag, text, className) {
    var el = document.createElement(tag);
    if (text !== undefined && text !== null) { el.textContent = text; }
    if (className) { el.className = className; }
    return el;
  }

  // ---- village outlines: the convex hull of each village's households (Andrew's monotone chain) ----------
  function hull(points) {
    points = points.slice().sort(function (a, b) { return a[0] - b[0] || a[1] - b[1]; });
    if (points.length < 3) { return points; }
    function cross(o, a, b) { return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]); }
    var lower = [], upper = [], i;
    for (i = 0; i < points.length; i++) {
      while (lower.length >= 2 && cross(lower[lower.length - 2], lower[lower.length - 1], points[i]) <= 0) { lower.pop(); }
      lower.push(points[i]);
    }
    for (i = points.length - 1; i >= 0; i--) {
      while (upper.length >= 2 && cross(upper[upper.length - 2], upper[upper.length - 1], points[i]) <= 0) { upper.pop(); }
      upper.push(points[i]);
    }
    upper.pop(); lower.pop();
    return lower.concat(upper);
  }

  var villages = {};
  households.forEach(function (f) {
    var code = f.properties.village_code;
    (villages[code] = villages[code] || {name: f.properties.village, points: []}).points.push(latlng(f.geometry.coordinates));
  });
  var villageCodes = Object.keys(villages);
  villageCodes.forEach(function (code) {
    var village = villages[code], outline = hull(village.points);
    if (outline.length < 3) { return; }
    L.polygon(outline, {color: "#7b8794", weight: 1, dashArray: "2 4", fillColor: "#cbd2d9",
                                      fillOpacity: 0.15, interactive: false}).addTo(map);
    if (villageCodes.length <= 30) {  // the name above the village's northernmost household
      var north = outline.reduce(function (top, point) { return point[0] > top[0] ? point : top; });
      L.tooltip({permanent: true, direction: "top", offset: [0, -10], className: "village-label", interactive: false})
        .setLatLng(north).setContent(node("span", village.name)).addTo(map);  // a string would be read as HTML
    }
  });

  // ---- lines, visit points, households (drawn in that order, households on top) -----------------------------
  links.forEach(function (f) {
    L.polyline(f.geometry.coordinates.map(latlng), {color: f.properties.color, weight: 2, dashArray: "5 5",
                                                     interactive: false}).addTo(map);
  });

  function visitPopup(p) {
    var box = node("div", null, "popup");
    box.appendChild(node("strong", labels.visit + " " + (p.date || "")));
    var verdict = labels.verdicts[p.verdict || ""] || p.verdict;
    box.appendChild(node("div", verdict, "verdict verdict-" + (p.verdict || "none")));
    if (p.by) { box.appendChild(node("div", p.by_name || p.by, "muted")); }
    if (p.distance_m !== null && p.distance_m !== undefined) { box.appendChild(node("div", fill(labels.distance, {m: p.distance_m}))); }
    if (p.accuracy !== null && p.accuracy !== undefined) { box.appendChild(node("div", fill(labels.accuracy, {m: p.accuracy}), "muted")); }
    if (p.reasons && p.reasons.length) {
      var list = node("ul", null, "reasons");
      p.reasons.forEach(function (code) { list.appendChild(node("li", labels.reasons[code] || code)); });
      box.appendChild(list);
    }
    var link = node("a", labels.open_submission);
    link.href = p.url;
    box.appendChild(link);
    return box;
  }

  visits.forEach(function (f) {
    var p = f.properties;
    var marker = L.circleMarker(latlng(f.geometry.coordinates), {radius: 5, color: p.color, weight: 3,
                                                                fillColor: "#ffffff", fillOpacity: 1})
      .bindPopup(function () { return visitPopup(p); }).addTo(map);
    var el = marker.getElement && marker.getElement();
    if (el) { el.setAttribute("data-testid", "map-visit"); el.setAttribute("data-verdict", p.verdict || ""); }
  });

  function householdPopup(p) {
    var box = node("div", null, "popup");
    box.appendChild(node("strong", p.head));
    box.appendChild(node("div", p.number + " · " + p.village, "muted"));
    box.appendChild(node("div", p.status));
    var state = node("div", labels.states[p.state], "state");
    state.style.color = p.color;
    box.appendChild(state);
    if (p.visits) { box.appendChild(node("div", fill(labels.visits, {n: p.visits}), "muted")); }
    if (p.cadre) { box.appendChild(node("div", labels.cadre + ": " + (p.cadre_name || p.cadre), "muted")); }
    var link = node("a", labels.open_file);
    link.href = p.url;
    link.setAttribute("data-testid", "map-open-file");
    box.appendChild(link);
    return box;
  }

  var byNumber = {};
  households.forEach(function (f) {
    var p = f.properties;
    var marker = L.circleMarker(latlng(f.geometry.coordinates), {radius: 8, color: "#ffffff", weight: 2,
                                                                fillColor: p.color, fillOpacity: 0.95})
      .bindPopup(function () { return householdPopup(p); }).addTo(map);
    var el = marker.getElement && marker.getElement();
    if (el) {
      el.setAttribute("data-testid", "map-household");
      el.setAttribute("data-number", p.number);
      el.setAttribute("data-state", p.state);
    }
    byNumber[p.number] = marker;
  });

  var focus = byNumber[element.getAttribute("data-focus")];
  if (focus) {
    map.setView(focus.getLatLng(), 17);
    focus.openPopup();
  }
  element.setAttribute("data-ready", "1");
})();
