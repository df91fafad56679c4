// The map page: draws the GeoJSON the page embeds (households by this month's visit state, the month's visit
// points, a dashed line from a questionable visit to its household, a faint outline around each village's
// households). Plain ES5 and Leaflet, no build step; works by touch on a phone. No base layer unless the
// server names a tile URL, so it also works without the internet.
//
// Zoomed out (a town or a county on a phone), a village's markers would sit on top of each other and under the
// names of their neighbours: a village smaller than VILLAGE_MIN_PX on screen is drawn as one circle (its
// households' count, a ring coloured by their visit states), circles that would touch merge, and a tap zooms
// to them. Names are placed where they cover no marker and no other name, or not drawn.
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

  var VILLAGE_MIN_PX = 120;   // a village this wide or tall on screen shows its households one by one
  var EXPAND_ZOOM = 16;       // from this zoom every village does (a focused household is always drawn)
  var LABEL_FONT = "12px sans-serif", LABEL_HEIGHT = 16, LABEL_GAP = 4;

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

  // ---- one layer per village: its outline, its visits' lines and points, its households ------------------
  var villages = {}, villageOf = {};
  households.forEach(function (f) {
    var p = f.properties, code = p.village_code;
    var village = villages[code] = villages[code] || {code: code, name: p.village, households: [], points: [],
                                                      states: {}, layer: L.layerGroup(), markers: [], shown: false};
    village.households.push(f);
    village.points.push(latlng(f.geometry.coordinates));
    village.states[p.state] = (village.states[p.state] || 0) + 1;
    villageOf[p.number] = village;
  });
  var villageList = Object.keys(villages).sort().map(function (code) {
    var village = villages[code];
    village.bounds = L.latLngBounds(village.points);
    village.outline = hull(village.points);
    if (village.outline.length >= 3) {
      L.polygon(village.outline, {color: "#7b8794", weight: 1, dashArray: "2 4", fillColor: "#cbd2d9",
                                  fillOpacity: 0.15, interactive: false}).addTo(village.layer);
    }
    return village;
  });

  // a visit drawn with its household's village; one whose household has no location is drawn on its own
  var loose = L.layerGroup().addTo(map);
  function layerFor(f) {
    var village = villageOf[f.properties.household];
    return village ? village.layer : loose;
  }

  links.forEach(function (f) {
    L.polyline(f.geometry.coordinates.map(latlng), {color: f.properties.color, weight: 2, dashArray: "5 5",
                                                     interactive: false}).addTo(layerFor(f));
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

  function tag(marker, attributes) {
    // Leaflet makes a marker's element only on the map: tag it whenever it is added
    marker.on("add", function () {
      var el = marker.getElement && marker.getElement();
      if (!el) { return; }
      Object.keys(attributes).forEach(function (name) { el.setAttribute(name, attributes[name]); });
    });
    return marker;
  }

  visits.forEach(function (f) {
    var p = f.properties;
    var marker = L.circleMarker(latlng(f.geometry.coordinates), {radius: 5, color: p.color, weight: 3,
                                                                fillColor: "#ffffff", fillOpacity: 1})
      .bindPopup(function () { return visitPopup(p); });
    tag(marker, {"data-testid": "map-visit", "data-verdict": p.verdict || ""}).addTo(layerFor(f));
    var village = villageOf[p.household];
    if (village) { village.markers.push({latlng: marker.getLatLng(), radius: 6}); }
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
    var p = f.properties, village = villageOf[p.number];
    var marker = L.circleMarker(latlng(f.geometry.coordinates), {radius: 8, color: "#ffffff", weight: 2,
                                                                fillColor: p.color, fillOpacity: 0.95})
      .bindPopup(function () { return householdPopup(p); });
    tag(marker, {"data-testid": "map-household", "data-number": p.number, "data-state": p.state})
      .addTo(village.layer);
    village.markers.push({latlng: marker.getLatLng(), radius: 10});
    byNumber[p.number] = marker;
  });

  // ---- clusters: villages too small to show, merged while their circles would touch -----------------------
  function pixelSize(bounds) {
    var a = map.latLngToContainerPoint(bounds.getNorthWest()), b = map.latLngToContainerPoint(bounds.getSouthEast());
    return Math.max(Math.abs(b.x - a.x), Math.abs(b.y - a.y));
  }

  function radiusFor(count) { return Math.round(12 + Math.min(12, 2 * Math.sqrt(count))); }

  function clusterGroups(small) {
    var groups = [];
    small.slice().sort(function (a, b) { return b.households.length - a.households.length; }).forEach(function (village) {
      var centre = map.latLngToContainerPoint(village.bounds.getCenter());
      var count = village.households.length, radius = radiusFor(count);
      var near = groups.filter(function (g) { return g.centre.distanceTo(centre) < g.radius + radius + LABEL_GAP; })[0];
      if (!near) {
        groups.push({villages: [village], centre: centre, count: count, radius: radius});
        return;
      }
      near.centre = L.point((near.centre.x * near.count + centre.x * count) / (near.count + count),
                            (near.centre.y * near.count + centre.y * count) / (near.count + count));
      near.villages.push(village);
      near.count += count;
      near.radius = radiusFor(near.count);
    });
    // a merge can bring two groups together: merge until none touch
    for (var i = 0; i < groups.length; i++) {
      for (var j = i + 1; j < groups.length; j++) {
        var a = groups[i], b = groups[j];
        if (a.centre.distanceTo(b.centre) < a.radius + b.radius + LABEL_GAP) {
          a.centre = L.point((a.centre.x * a.count + b.centre.x * b.count) / (a.count + b.count),
                             (a.centre.y * a.count + b.centre.y * b.count) / (a.count + b.count));
          a.villages = a.villages.concat(b.villages);
          a.count += b.count;
          a.radius = radiusFor(a.count);
          groups.splice(j, 1);
          i = -1;
          break;
        }
      }
    }
    return groups;
  }

  // the ring: each visit state's share of the group's households, in the legend's colours
  function ring(group) {
    var counts = {}, stops = [], start = 0;
    group.villages.forEach(function (village) {
      Object.keys(village.states).forEach(function (s) { counts[s] = (counts[s] || 0) + village.states[s]; });
    });
    Object.keys(data.colors).forEach(function (s) {
      if (!counts[s]) { return; }
      var end = start + 360 * counts[s] / group.count;
      stops.push(data.colors[s] + " " + start + "deg " + end + "deg");
      start = end;
    });
    return {gradient: "conic-gradient(" + stops.join(", ") + ")", counts: counts};
  }

  function groupName(group) {
    if (group.villages.length > 2) { return fill(labels.cluster_villages, {n: group.villages.length}); }
    return group.villages.map(function (v) { return v.name; }).join("、");
  }

  function clusterMarker(group) {
    var size = 2 * group.radius, colours = ring(group);
    var el = node("div", null, "cluster");
    el.style.background = colours.gradient;  // CSSOM, not a style attribute: the page's CSP allows it
    var count = node("span", String(group.count), "cluster-count");
    el.appendChild(count);
    var bounds = L.latLngBounds([]);
    group.villages.forEach(function (village) { bounds.extend(village.bounds); });
    var title = groupName(group);
    var marker = L.marker(map.containerPointToLatLng(group.centre), {
      icon: L.divIcon({className: "map-cluster", html: el, iconSize: [size, size]}),
      title: title + " · " + fill(labels.cluster_households, {n: group.count}), keyboard: true});
    marker.on("click", function () { map.fitBounds(bounds, {padding: [32, 32], maxZoom: EXPAND_ZOOM + 1}); });
    tag(marker, {"data-testid": "map-cluster", "data-households": String(group.count),
                 "data-villages": group.villages.map(function (v) { return v.code; }).join(","),
                 "data-not-visited": String(colours.counts.not_visited || 0)});
    return marker;
  }

  // ---- names: first of a few places around the village (or circle) that covers nothing, else none ---------
  var measure = document.createElement("canvas").getContext("2d");
  measure.font = LABEL_FONT;

  function box(x, y, width, height) { return {left: x, top: y, right: x + width, bottom: y + height}; }
  function overlaps(a, b) { return a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom; }

  function candidates(anchor, width) {
    // anchor: {north, south, west, east} container points of the thing named and how far to keep from it
    var h = LABEL_HEIGHT, g = LABEL_GAP, half = width / 2;
    return [box(anchor.north.x - half, anchor.north.y - anchor.clear - g - h, width, h),
            box(anchor.south.x - half, anchor.south.y + anchor.clear + g, width, h),
            box(anchor.east.x + anchor.clear + g, anchor.east.y - h / 2, width, h),
            box(anchor.west.x - anchor.clear - g - width, anchor.west.y - h / 2, width, h)];
  }

  function extremes(points, clear) {
    var pts = points.map(function (ll) { return map.latLngToContainerPoint(ll); });
    function pick(better) { return pts.reduce(function (a, b) { return better(b, a) ? b : a; }); }
    return {north: pick(function (a, b) { return a.y < b.y; }), south: pick(function (a, b) { return a.y > b.y; }),
            west: pick(function (a, b) { return a.x < b.x; }), east: pick(function (a, b) { return a.x > b.x; }),
            clear: clear};
  }

  var labelLayer = L.layerGroup().addTo(map);
  var clusterLayer = L.layerGroup().addTo(map);

  function placeLabels(named, obstacles) {
    var size = map.getSize(), view = box(0, 0, size.x, size.y), placed = [];
    named.forEach(function (item) {
      var width = Math.ceil(measure.measureText(item.text).width) + 6;
      var spot = candidates(item.anchor, width).filter(function (b) {
        return b.left >= view.left && b.top >= view.top && b.right <= view.right && b.bottom <= view.bottom &&
          !obstacles.some(function (o) { return overlaps(b, o); }) && !placed.some(function (o) { return overlaps(b, o); });
      })[0];
      if (!spot) { return; }
      placed.push(spot);
      var el = node("span", item.text);
      var label = L.marker(map.containerPointToLatLng([spot.left, spot.top]), {
        icon: L.divIcon({className: "village-label", html: el, iconSize: [width, LABEL_HEIGHT], iconAnchor: [0, 0]}),
        interactive: false, keyboard: false});
      tag(label, {"data-testid": "map-label", "data-for": item.code});
      labelLayer.addLayer(label);
    });
  }

  function render() {
    var zoom = map.getZoom(), small = [], named = [], obstacles = [];
    villageList.forEach(function (village) {
      var show = zoom >= EXPAND_ZOOM || village.households.length === 1 || pixelSize(village.bounds) >= VILLAGE_MIN_PX;
      if (show !== village.shown) {
        if (show) { village.layer.addTo(map); } else { map.removeLayer(village.layer); }
        village.shown = show;
      }
      if (!show) { small.push(village); return; }
      village.markers.forEach(function (m) {
        var c = map.latLngToContainerPoint(m.latlng);
        obstacles.push(box(c.x - m.radius, c.y - m.radius, 2 * m.radius, 2 * m.radius));
      });
      named.push({code: village.code, text: village.name, anchor: extremes(village.points, 10)});
    });
    clusterLayer.clearLayers();
    clusterGroups(small).forEach(function (group) {
      clusterLayer.addLayer(clusterMarker(group));
      var c = group.centre, r = group.radius;
      obstacles.push(box(c.x - r, c.y - r, 2 * r, 2 * r));
      named.push({code: group.villages.map(function (v) { return v.code; }).join(","),
                  text: groupName(group),
                  anchor: {north: c, south: c, west: c, east: c, clear: r}});
    });
    labelLayer.clearLayers();
    placeLabels(named, obstacles);
    element.setAttribute("data-zoom", String(zoom));
  }

  var focus = byNumber[element.getAttribute("data-focus")];
  if (focus) { map.setView(focus.getLatLng(), 17, {animate: false}); }
  render();
  map.on("moveend", render);
  if (focus) { focus.openPopup(); }
  element.setAttribute("data-ready", "1");
})();
