// The run viewer: reads the run history embedded in the page (JSON, inference/history/json_format.py)
// and draws it. All text from the run goes into the page through textContent, never as HTML.
(function () {
  'use strict';

  var SVG = 'http://www.w3.org/2000/svg';
  var COLOURS = {
    running: [37, 99, 235], finished: [22, 163, 74], deadEarlier: '#ead7d7', filtered: '#f3f4f6',
    causes: { constraint: '#dc2626', max_tokens: '#ea580c', window: '#ca8a04', condition: '#9333ea', '': '#be123c' },
    resampled: '#dc2626', lineage: '#f97316'
  };

  function num(x) {
    if (typeof x === 'number') return x;
    return x === '-inf' ? -Infinity : x === 'inf' ? Infinity : NaN;
  }

  function fmt(x, digits) {
    if (x === -Infinity) return '-inf';
    if (x === Infinity) return 'inf';
    if (isNaN(x)) return 'nan';
    return String(Number(x.toPrecision(digits || 4)));
  }

  function node(tag, text, attrs) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (attrs) Object.keys(attrs).forEach(function (k) { e.setAttribute(k, String(attrs[k])); });
    return e;
  }

  function svgNode(tag, attrs, text) {
    var e = document.createElementNS(SVG, tag);
    Object.keys(attrs).forEach(function (k) { e.setAttribute(k, String(attrs[k])); });
    if (text !== undefined) e.textContent = String(text);
    return e;
  }

  function codePoints(s) {
    var n = 0;
    for (var k = 0; k < s.length; k++) {
      var c = s.charCodeAt(k);
      if (c < 0xdc00 || c > 0xdfff) n++;  // a low surrogate continues the previous code point
    }
    return n;
  }

  // ---- the run, with what every view needs precomputed ----
  function prepare(doc) {
    var steps = doc.steps.map(function (s) {
      var n = s.parents.length, lw = new Float64Array(n), inc = new Float64Array(n), max = -Infinity;
      for (var i = 0; i < n; i++) {
        lw[i] = num(s.log_weights[i]);
        inc[i] = num(s.increments[i]);
        if (lw[i] > max) max = lw[i];
      }
      var rel = new Float64Array(n), weight = new Float64Array(n), total = 0;
      for (i = 0; i < n; i++) { rel[i] = max === -Infinity ? 0 : Math.exp(lw[i] - max); total += rel[i]; }
      for (i = 0; i < n; i++) weight[i] = total > 0 ? rel[i] / total : 0;
      var state = [];
      for (i = 0; i < n; i++) state.push(lw[i] === -Infinity ? 'dead' : s.finished[i] ? 'finished' : 'running');
      return { raw: s, n: n, lw: lw, inc: inc, rel: rel, weight: weight, state: state, diedNow: new Uint8Array(n),
               ess: num(s.ess), logMl: num(s.log_ml) };
    });
    steps.forEach(function (s, t) {
      for (var i = 0; i < s.n; i++) {
        s.diedNow[i] = s.state[i] === 'dead' && (t === 0 || steps[t - 1].state[s.raw.parents[i]] !== 'dead') ? 1 : 0;
      }
    });
    var lanes = doc.particles;
    steps.forEach(function (s) { lanes = Math.max(lanes, s.n); });
    var causes = [];
    steps.forEach(function (s) {
      s.raw.causes.forEach(function (c, i) { if (s.state[i] === 'dead' && causes.indexOf(c) < 0) causes.push(c); });
    });
    return { doc: doc, steps: steps, lanes: lanes, causes: causes.sort() };
  }

  function lineage(run, t, i) {
    var path = [i];
    for (var s = t; s > 0; s--) path.push(run.steps[s].raw.parents[path[path.length - 1]]);
    return path.reverse();
  }

  function descendants(run, t, i) {
    var marked = [];
    var current = new Uint8Array(run.steps[t].n);
    current[i] = 1;
    marked[t] = current;
    for (var s = t + 1; s < run.steps.length; s++) {
      var next = new Uint8Array(run.steps[s].n), parents = run.steps[s].raw.parents;
      for (var j = 0; j < next.length; j++) next[j] = current[parents[j]];
      marked[s] = next;
      current = next;
    }
    return marked;
  }

  // The pieces of particle i's text after step t: one per step of its lineage, cut where a step rewrote it.
  function pieces(run, t, i) {
    var path = lineage(run, t, i), segments = [], length = 0;
    for (var s = 0; s <= t; s++) {
      var j = path[s], raw = run.steps[s].raw, keep = raw.keep[j];
      while (length > keep) {
        var last = segments.pop();
        length -= last.length;
        if (length < keep) {
          var cut = Array.from(last.text).slice(0, keep - length).join('');
          segments.push({ text: cut, step: last.step, lane: last.lane, length: keep - length });
          length = keep;
        }
      }
      var piece = raw.pieces[j];
      segments.push({ text: piece, step: s, lane: j, length: codePoints(piece) });
      length += segments[segments.length - 1].length;
    }
    return segments;
  }

  function stateText(run, t, i) {
    var s = run.steps[t];
    return s.state[i] === 'dead' ? 'dead (' + (s.raw.causes[i] || 'weight zero') + ')' : s.state[i];
  }

  function incrementColour(run, t, i) {
    var s = run.steps[t];
    if (s.state[i] === 'dead' && s.diedNow[i]) return COLOURS.causes[s.raw.causes[i]] || COLOURS.causes[''];
    var d = s.inc[i];
    if (!(d < 0)) return d > 0 ? 'rgba(22, 163, 74, ' + Math.min(0.5, d / 4).toFixed(3) + ')' : 'transparent';
    return 'rgba(220, 38, 38, ' + Math.min(0.75, 0.08 - d / 5).toFixed(3) + ')';
  }

  function renderTokens(run, container, t, i, markLast) {
    container.textContent = '';
    var fragment = document.createDocumentFragment();
    pieces(run, t, i).forEach(function (seg) {
      var s = run.steps[seg.step];
      if (!seg.text && seg.step > 0 && run.steps[seg.step - 1].state[s.raw.parents[seg.lane]] !== 'running') return;  // idle after it ended
      var span = node('span', seg.text, {
        'class': 'token' + (seg.text ? '' : ' empty') + (seg.text.charAt(seg.text.length - 1) === '\n' ? ' newline' : '') +
                 (markLast && seg.step === t ? ' current' : ''),
        'data-step': seg.step,
        title: 'step ' + seg.step + ', lane ' + seg.lane + ': incremental log weight ' + fmt(s.inc[seg.lane]) +
               ', log weight ' + fmt(s.lw[seg.lane]) + ', ' + s.raw.evaluations[seg.lane] + ' constraint evaluations' +
               (s.state[seg.lane] === 'dead' ? ', ' + stateText(run, seg.step, seg.lane) : '')
      });
      span.style.backgroundColor = incrementColour(run, seg.step, seg.lane);
      fragment.appendChild(span);
    });
    container.appendChild(fragment);
  }

  // ---- header and samples ----
  function renderHeader(run) {
    var doc = run.doc, T = run.steps.length;
    var resampled = run.steps.filter(function (s) { return s.raw.resampled; }).length;
    var evaluations = 0;
    run.steps.forEach(function (s) { s.raw.evaluations.forEach(function (e) { evaluations += e; }); });
    document.getElementById('summary').textContent = doc.particles + ' particles · ' + T + ' steps · resampled ' +
      resampled + (resampled === 1 ? ' time' : ' times') + ' · ESS ' + fmt(num(doc.ess), 3) + ' · log-ML ' + fmt(num(doc.log_ml), 6) + ' · ' +
      evaluations + ' constraint evaluations';
    var meta = document.getElementById('meta');
    Object.keys(doc.meta).forEach(function (k) { meta.appendChild(node('dt', k)); meta.appendChild(node('dd', doc.meta[k])); });
    document.getElementById('message').textContent = doc.message;
  }

  function renderSamples(run) {
    var body = document.querySelector('#samples tbody');
    run.doc.samples.forEach(function (sample, k) {
      var row = node('tr', null, { 'class': 'sample', 'data-rank': k });
      row.appendChild(node('td', sample.probability.toFixed(4), { 'class': 'number probability', 'data-probability': sample.probability }));
      var cell = node('td');
      cell.appendChild(node('code', sample.text, { 'class': 'sample-text' }));
      row.appendChild(cell);
      body.appendChild(row);
    });
    if (!run.doc.samples.length) {
      var empty = node('tr');
      empty.appendChild(node('td', 'no samples' + (run.doc.message ? ': ' + run.doc.message : ''), { colspan: 2 }));
      body.appendChild(empty);
    }
  }

  // ---- charts ----
  function lineChart(svg, T, series, yMin, yMax, marks, limit) {
    var W = 480, H = 170, left = 52, right = 10, top = 8, bottom = 22;
    svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    if (!(yMax > yMin)) { yMax = yMin + 1; }
    function x(t) { return left + (T > 1 ? t / (T - 1) : 0.5) * (W - left - right); }
    function y(v) { return top + (1 - (v - yMin) / (yMax - yMin)) * (H - top - bottom); }
    svg.appendChild(svgNode('line', { 'class': 'axis', x1: left, y1: top, x2: left, y2: H - bottom }));
    svg.appendChild(svgNode('line', { 'class': 'axis', x1: left, y1: H - bottom, x2: W - right, y2: H - bottom }));
    svg.appendChild(svgNode('text', { x: left - 4, y: top + 8, 'text-anchor': 'end' }, fmt(yMax, 3)));
    svg.appendChild(svgNode('text', { x: left - 4, y: H - bottom, 'text-anchor': 'end' }, fmt(yMin, 3)));
    svg.appendChild(svgNode('text', { x: left, y: H - 6, 'text-anchor': 'middle' }, '0'));
    svg.appendChild(svgNode('text', { x: W - right, y: H - 6, 'text-anchor': 'end' }, 'step ' + Math.max(0, T - 1)));
    if (limit !== undefined) {
      svg.appendChild(svgNode('line', { 'class': 'limit', x1: left, y1: y(limit), x2: W - right, y2: y(limit) }));
    }
    series.forEach(function (s) {
      var points = [];
      s.values.forEach(function (v, t) { if (isFinite(v)) points.push(x(t).toFixed(1) + ',' + y(v).toFixed(1)); });
      svg.appendChild(svgNode('polyline', { 'class': s.cls, points: points.join(' '), 'data-points': points.length }));
    });
    (marks || []).forEach(function (m) {
      svg.appendChild(svgNode('circle', { 'class': 'resampled', cx: x(m.t), cy: y(m.v), r: 2.5 }));
    });
  }

  function renderCharts(run) {
    var T = run.steps.length;
    var ess = run.steps.map(function (s) { return s.ess; });
    var live = run.steps.map(function (s) { return s.raw.live; });
    var marks = [];
    run.steps.forEach(function (s, t) { if (s.raw.resampled) marks.push({ t: t, v: s.ess }); });
    lineChart(document.getElementById('ess-chart'), T, [{ cls: 'ess', values: ess }, { cls: 'live', values: live }],
              0, run.lanes, marks, run.doc.particles);
    var logMl = run.steps.map(function (s) { return s.logMl; }).filter(isFinite);
    var lo = logMl.length ? Math.min.apply(null, logMl) : 0, hi = logMl.length ? Math.max.apply(null, logMl) : 0;
    lineChart(document.getElementById('logml-chart'), T, [{ cls: 'logml', values: run.steps.map(function (s) { return s.logMl; }) }],
              lo, hi === lo ? lo + 1 : hi);
  }

  // ---- the lanes: one row per particle index, one column per step ----
  function Lanes(run, view) {
    var canvas = document.getElementById('lanes');
    var T = run.steps.length, L = run.lanes;
    var scroll = canvas.parentNode;
    var room = Math.max(400, (scroll.clientWidth || 900) - 40);
    var cw = Math.max(3, Math.min(28, Math.floor(room / Math.max(1, T))));
    var ch = Math.max(4, Math.min(20, Math.floor(520 / L)));
    var left = 34, top = 12, bottom = 18;
    var width = left + T * cw + 4, height = top + L * ch + bottom;
    var dpr = window.devicePixelRatio || 1;
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(height * dpr);
    canvas.style.width = width + 'px';
    canvas.style.height = height + 'px';
    var d = canvas.dataset;
    d.lanes = L; d.steps = T; d.cellWidth = cw; d.cellHeight = ch; d.left = left; d.top = top;
    document.getElementById('lanes-caption').textContent = L + ' lanes (particle index) × ' + T +
      ' steps; colour: state, shade: weight relative to the step\'s heaviest; lines: ancestry where a particle\'s parent sat in another lane (resampling); red ticks on top: steps that resampled.';

    function cellColour(t, i) {
      var s = run.steps[t];
      if (!view.visible(t, i)) return COLOURS.filtered;
      if (s.state[i] === 'dead') return s.diedNow[i] ? (COLOURS.causes[s.raw.causes[i]] || COLOURS.causes['']) : COLOURS.deadEarlier;
      var rgb = COLOURS[s.state[i]], a = 0.12 + 0.88 * s.rel[i];
      return 'rgba(' + rgb[0] + ',' + rgb[1] + ',' + rgb[2] + ',' + (Math.round(a * 20) / 20).toFixed(2) + ')';
    }

    function cx(t) { return left + t * cw + cw / 2; }
    function cy(i) { return top + i * ch + ch / 2; }

    this.draw = function () {
      var g = canvas.getContext('2d');
      g.setTransform(dpr, 0, 0, dpr, 0, 0);
      g.fillStyle = '#ffffff';
      g.fillRect(0, 0, width, height);
      var groups = {}, gx = cw >= 5 ? 1 : 0, gy = ch >= 6 ? 1 : 0;
      for (var t = 0; t < T; t++) {
        for (var i = 0; i < run.steps[t].n; i++) {
          var c = cellColour(t, i);
          (groups[c] = groups[c] || []).push(t, i);
        }
      }
      Object.keys(groups).forEach(function (c) {
        g.fillStyle = c;
        var cells = groups[c];
        for (var k = 0; k < cells.length; k += 2) g.fillRect(left + cells[k] * cw, top + cells[k + 1] * ch, cw - gx, ch - gy);
      });
      g.strokeStyle = 'rgba(31, 35, 40, 0.35)';
      g.lineWidth = 1;
      g.beginPath();
      for (t = 1; t < T; t++) {
        var parents = run.steps[t].raw.parents;
        for (i = 0; i < parents.length; i++) {
          if (parents[i] !== i) { g.moveTo(cx(t - 1), cy(parents[i])); g.lineTo(cx(t), cy(i)); }
        }
      }
      g.stroke();
      g.fillStyle = COLOURS.resampled;
      for (t = 0; t < T; t++) if (run.steps[t].raw.resampled) g.fillRect(left + (t + 1) * cw - 1, 1, 2, top - 3);
      g.fillStyle = '#57606a';
      g.font = '10px system-ui, sans-serif';
      g.textAlign = 'right';
      g.textBaseline = 'middle';
      var laneEvery = Math.max(1, Math.ceil(12 / ch));
      for (i = 0; i < L; i += laneEvery) g.fillText(String(i), left - 4, cy(i));
      g.textAlign = 'center';
      g.textBaseline = 'alphabetic';
      var stepEvery = Math.max(1, Math.ceil(40 / cw));
      stepEvery = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000].filter(function (k) { return k >= stepEvery; })[0] || stepEvery;
      for (t = 0; t < T; t += stepEvery) g.fillText(String(t), cx(t), height - 5);
      var selected = view.selected;
      if (!selected) return;
      var below = selected.descendants;
      g.strokeStyle = COLOURS.lineage;
      g.lineWidth = 1;
      for (t = selected.t + 1; t < T; t++) {
        for (i = 0; i < below[t].length; i++) if (below[t][i]) g.strokeRect(left + t * cw + 0.5, top + i * ch + 0.5, cw - 1, ch - 1);
      }
      var path = selected.lineage;
      g.lineWidth = 3;
      g.beginPath();
      g.moveTo(cx(0), cy(path[0]));
      for (t = 1; t < path.length; t++) g.lineTo(cx(t), cy(path[t]));
      g.stroke();
      g.strokeStyle = '#1f2328';
      g.lineWidth = 2;
      g.strokeRect(left + selected.t * cw, top + selected.i * ch, cw, ch);
    };

    this.at = function (event) {
      var box = canvas.getBoundingClientRect();
      var t = Math.floor((event.clientX - box.left - left) / cw), i = Math.floor((event.clientY - box.top - top) / ch);
      if (t < 0 || t >= T || i < 0 || i >= run.steps[t].n) return null;
      return { t: t, i: i };
    };
    this.canvas = canvas;
  }

  // ---- filters, selection, final particles ----
  function View(run) {
    var view = this;
    var shown = { running: true, finished: true, dead: true };
    var causeShown = {};
    run.causes.forEach(function (c) { causeShown[c] = true; });
    this.selected = null;

    this.visible = function (t, i) {
      var s = run.steps[t], state = s.state[i];
      if (!shown[state]) return false;
      return state !== 'dead' || causeShown[s.raw.causes[i]] !== false;
    };

    var lanes = new Lanes(run, view);
    var rows = [];

    function checkbox(label, name, checked, change) {
      var wrap = node('label');
      var box = node('input', null, { type: 'checkbox', name: name });
      box.checked = checked;
      box.addEventListener('change', function () { change(box.checked); view.refresh(); });
      wrap.appendChild(box);
      wrap.appendChild(document.createTextNode(' ' + label));
      return wrap;
    }

    var filters = document.getElementById('filters');
    filters.appendChild(node('span', 'show:'));
    ['running', 'finished', 'dead'].forEach(function (state) {
      filters.appendChild(checkbox(state, 'state-' + state, true, function (on) { shown[state] = on; }));
    });
    run.causes.forEach(function (c) {
      filters.appendChild(checkbox('dead: ' + (c || 'weight zero'), 'cause-' + (c || 'none'), true,
                                   function (on) { causeShown[c] = on; }));
    });

    var legend = document.getElementById('legend');
    function swatch(colour, label) {
      var item = node('span');
      var box = node('span', null, { 'class': 'swatch' });
      box.style.background = colour;
      item.appendChild(box);
      item.appendChild(document.createTextNode(label));
      legend.appendChild(item);
    }
    swatch('rgb(37, 99, 235)', 'running');
    swatch('rgb(22, 163, 74)', 'finished');
    run.causes.forEach(function (c) { swatch(COLOURS.causes[c] || COLOURS.causes[''], 'died: ' + (c || 'weight zero')); });
    swatch(COLOURS.deadEarlier, 'dead earlier');
    swatch(COLOURS.lineage, 'selected lineage');

    var T = run.steps.length;
    var body = document.querySelector('#final-particles tbody');
    if (T > 0) {
      var last = run.steps[T - 1];
      var totals = [];
      for (var i = 0; i < last.n; i++) {
        var total = 0, path = lineage(run, T - 1, i);
        for (var s = 0; s < T; s++) total += run.steps[s].raw.evaluations[path[s]];
        totals.push(total);
      }
      for (i = 0; i < last.n; i++) {
        var row = node('tr', null, { 'class': 'particle', 'data-lane': i, 'data-state': last.state[i],
                                     'data-cause': last.state[i] === 'dead' ? last.raw.causes[i] : '' });
        row.appendChild(node('td', i, { 'class': 'number' }));
        row.appendChild(node('td', stateText(run, T - 1, i)));
        row.appendChild(node('td', last.weight[i].toFixed(4), { 'class': 'number' }));
        row.appendChild(node('td', fmt(last.lw[i], 6), { 'class': 'number' }));
        row.appendChild(node('td', totals[i], { 'class': 'number' }));
        var cell = node('td', null, { 'class': 'text' }), tokens = node('div', null, { 'class': 'tokens' });
        renderTokens(run, tokens, T - 1, i);
        cell.appendChild(tokens);
        row.appendChild(cell);
        row.addEventListener('click', (function (lane) { return function () { view.select(T - 1, lane); }; })(i));
        body.appendChild(row);
        rows.push(row);
      }
    }

    this.select = function (t, i) {
      view.selected = { t: t, i: i, lineage: lineage(run, t, i), descendants: descendants(run, t, i) };
      var s = run.steps[t];
      var info = document.getElementById('selection');
      info.textContent = 'step ' + t + ', lane ' + i + ': ' + stateText(run, t, i) + ' · log weight ' + fmt(s.lw[i], 6) +
        ' · weight ' + s.weight[i].toFixed(4) + ' · incremental log weight ' + fmt(s.inc[i]) + ' · ' +
        s.raw.evaluations[i] + ' constraint evaluations this step · lineage (lane at each step): ' +
        view.selected.lineage.join(' → ');
      info.dataset.step = t;
      info.dataset.lane = i;
      info.dataset.lineage = JSON.stringify(view.selected.lineage);
      renderTokens(run, document.getElementById('particle-text'), t, i, true);
      rows.forEach(function (row, lane) { row.classList.toggle('selected', t === T - 1 && lane === i); });
      lanes.draw();
    };

    this.refresh = function () {
      rows.forEach(function (row, lane) { row.hidden = !view.visible(T - 1, lane); });
      lanes.draw();
    };

    lanes.canvas.addEventListener('click', function (event) {
      var cell = lanes.at(event);
      if (cell) view.select(cell.t, cell.i);
    });
    var hover = document.getElementById('hover');
    lanes.canvas.addEventListener('mousemove', function (event) {
      var cell = lanes.at(event);
      if (!cell) return;
      var s = run.steps[cell.t];
      hover.textContent = 'step ' + cell.t + ', lane ' + cell.i + ' (parent: lane ' + s.raw.parents[cell.i] + '): ' +
        stateText(run, cell.t, cell.i) + ', log weight ' + fmt(s.lw[cell.i]) + ', increment ' + fmt(s.inc[cell.i]) +
        ', added ' + JSON.stringify(s.raw.pieces[cell.i]);
    });
    this.refresh();
  }

  function main() {
    var doc = JSON.parse(document.getElementById('run-history').textContent);
    var run = prepare(doc);
    renderHeader(run);
    renderSamples(run);
    renderCharts(run);
    new View(run);
  }

  try {
    main();
    document.body.dataset.renderMs = performance.now().toFixed(1);
    document.body.dataset.ready = 'true';
  } catch (error) {
    var failure = document.getElementById('failure');
    failure.hidden = false;
    failure.textContent = 'The viewer could not show this run: ' + error;
    document.body.dataset.ready = 'error';
    throw error;
  }
})();
