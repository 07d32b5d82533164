// pytest-mcpperf HTML report: builds the page from the embedded data with uPlot.
// Everything is local: the data is in the #mcpperf-data element, nothing is fetched.
(function () {
  "use strict";

  var DATA = JSON.parse(document.getElementById("mcpperf-data").textContent);
  var COLORS = ["#0969da", "#cf222e", "#1a7f37", "#8250df", "#bf8700", "#1b7c83",
                "#e16f24", "#57606a", "#d63384", "#2da44e"];
  var charts = [];
  window.mcpperfCharts = charts;  // read by the browser test: every chart and its data

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") { node.textContent = attrs[k]; } else { node.setAttribute(k, attrs[k]); }
    });
    (children || []).forEach(function (c) {
      node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return node;
  }

  function num(v, digits) {
    if (v === null || v === undefined || (typeof v === "number" && !isFinite(v))) { return "–"; }
    if (typeof v !== "number") { return String(v); }
    return v.toFixed(digits === undefined ? 3 : digits);
  }

  function pct(part, whole) { return whole ? (100 * part / whole).toFixed(2) + " %" : "–"; }

  function table(head, rows, textCols) {
    textCols = textCols || [0];
    var thead = el("tr", {}, head.map(function (h, i) {
      return el("th", {"class": textCols.indexOf(i) >= 0 ? "text" : "", text: h});
    }));
    var body = rows.map(function (r) {
      return el("tr", {}, r.map(function (cell, i) {
        if (cell instanceof Node) { return el("td", {"class": "text"}, [cell]); }
        return el("td", {"class": textCols.indexOf(i) >= 0 ? "text" : "", text: String(cell)});
      }));
    });
    return el("table", {}, [el("thead", {}, [thead]), el("tbody", {}, body)]);
  }

  function facts(pairs) {
    var dl = el("dl", {"class": "facts"});
    pairs.forEach(function (p) {
      dl.appendChild(el("dt", {text: p[0]}));
      dl.appendChild(p[1] instanceof Node ? el("dd", {}, [p[1]]) : el("dd", {text: String(p[1])}));
    });
    return dl;
  }

  function verdictSpan(text, good) {
    return el("span", {"class": good ? "pass" : "fail", text: text});
  }

  // ------------------------------------------------------------------ charts

  function chartWidth() {
    return Math.max(320, Math.min(620, Math.floor((document.body.clientWidth - 80) / 2)));
  }

  function lineSeries(label, color, unit, digits, extra) {
    var s = {
      label: label, stroke: color, width: 1.5, spanGaps: false,
      value: function (u, v) { return v === null || v === undefined ? "–" : num(v, digits) + unit; }
    };
    Object.keys(extra || {}).forEach(function (k) { s[k] = extra[k]; });
    return s;
  }

  function addChart(parent, spec) {
    var box = el("div", {"class": "chart", "data-chart": spec.kind, "data-run": String(spec.run)},
                 [el("h4", {text: spec.title})]);
    parent.appendChild(box);
    var opts = {
      width: chartWidth(), height: 240,
      cursor: spec.sync ? {sync: {key: spec.sync}} : {},
      scales: spec.scales || {x: {time: false}},
      axes: spec.axes,
      series: [{label: spec.xLabel, value: spec.xValue}].concat(spec.series)
    };
    var chart = new uPlot(opts, spec.data, box);
    charts.push({kind: spec.kind, run: spec.run, title: spec.title, chart: chart,
                 data: spec.data, labels: spec.series.map(function (s) { return s.label; })});
    return chart;
  }

  function secondsAxis(label) {
    return {label: label || "seconds into the run",
            incrs: [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200]};
  }

  function msAxis(label) { return {label: label || "ms", size: 60}; }

  function timeX(series) {
    return {xLabel: "t", xValue: function (u, v) {
      return v === null || v === undefined ? "–" : v + " s" +
        (series.step_s > 1 ? " (+" + series.step_s + " s)" : "");
    }};
  }

  function quantileLabel(x) {
    var q = 100 * (1 - 1 / x);
    if (q <= 0) { return "p0"; }
    var digits = Math.max(0, Math.round(Math.log10(x)) - 2);
    return "p" + q.toFixed(digits);
  }

  function spectrumChart(parent, run, title, kind, lines) {
    var x = lines.x;
    var data = [x].concat(lines.values);
    return addChart(parent, {
      kind: kind, run: run, title: title,
      xLabel: "percentile",
      xValue: function (u, v) { return v === null || v === undefined ? "–" : quantileLabel(v); },
      scales: {x: {time: false, distr: 3, log: 10}, y: {distr: 3, log: 10}},
      axes: [
        {label: "percentile (axis: 1/(1-q))", values: function (u, splits) {
          return splits.map(function (v) {
            var d = Math.log10(v);
            return Math.abs(d - Math.round(d)) < 1e-9 ? quantileLabel(v) : "";
          });
        }},
        msAxis()
      ],
      series: lines.labels.map(function (label, i) {
        return lineSeries(label, COLORS[i % COLORS.length], " ms", 3);
      }),
      data: data
    });
  }

  function runCharts(section, run, index) {
    var s = run.series;
    var grid = el("div", {"class": "charts"});
    section.appendChild(el("h3", {text: "Latency over time"}));
    section.appendChild(el("p", {"class": "note", text:
      "Latency counts from each request's intended send time (so a late send is charged " +
      "to it); service time counts from the moment it was actually sent. " +
      (s.step_s > 1 ? "Each point covers " + s.step_s + " s: its worst second." :
        "One point per second.")}));
    section.appendChild(grid);
    var sync = "run" + index;
    var tx = timeX(s);
    if (s.t.length) {
      addChart(grid, {
        kind: "latency", run: index, title: "Latency per second (from intended send)",
        sync: sync, xLabel: tx.xLabel, xValue: tx.xValue,
        axes: [secondsAxis(), msAxis()],
        series: [
          lineSeries("p50", COLORS[0], " ms", 3), lineSeries("p90", COLORS[2], " ms", 3),
          lineSeries("p99", COLORS[1], " ms", 3), lineSeries("max", COLORS[7], " ms", 3)
        ],
        data: [s.t, s.p50_ms, s.p90_ms, s.p99_ms, s.max_ms]
      });
      addChart(grid, {
        kind: "service", run: index, title: "Service time per second (from actual send)",
        sync: sync, xLabel: tx.xLabel, xValue: tx.xValue,
        axes: [secondsAxis(), msAxis()],
        series: [lineSeries("p50", COLORS[0], " ms", 3), lineSeries("p99", COLORS[1], " ms", 3)],
        data: [s.t, s.service_p50_ms, s.service_p99_ms]
      });
    } else {
      grid.appendChild(el("p", {"class": "note", text: "No per-second series in this report."}));
    }

    section.appendChild(el("h3", {text: "Percentile spectrum"}));
    var sp = run.spectrum, spGrid = el("div", {"class": "charts"});
    section.appendChild(spGrid);
    var labels = [], values = [];
    if (sp.latency) { labels.push("latency"); values.push(sp.latency); }
    if (sp.service) { labels.push("service time"); values.push(sp.service); }
    if (labels.length) {
      spectrumChart(spGrid, index, "HDR percentile spectrum, p0 to p99.999", "spectrum",
                    {x: sp.x, labels: labels, values: values});
    } else {
      spGrid.appendChild(el("p", {"class": "note", text: "No request succeeded: no spectrum."}));
    }

    if (s.t.length) {
      section.appendChild(el("h3", {text: "Requests per second"}));
      var rGrid = el("div", {"class": "charts"});
      section.appendChild(rGrid);
      addChart(rGrid, {
        kind: "requests", run: index, title: "Sent / ok / failed per second",
        sync: sync, xLabel: tx.xLabel, xValue: tx.xValue,
        axes: [secondsAxis(), {label: "requests/s", size: 60}],
        series: [lineSeries("sent", COLORS[0], "/s", 1), lineSeries("ok", COLORS[2], "/s", 1),
                 lineSeries("failed", COLORS[1], "/s", 1)],
        data: [s.t, s.sent, s.ok, s.failed]
      });
      var codes = Object.keys(s.errors || {});
      if (codes.length) {
        addChart(rGrid, {
          kind: "errors", run: index, title: "Errors per second by class and code",
          sync: sync, xLabel: tx.xLabel, xValue: tx.xValue,
          axes: [secondsAxis(), {label: "errors/s", size: 60}],
          series: codes.map(function (c, i) {
            return lineSeries(c, COLORS[(i + 1) % COLORS.length], "/s", 1);
          }),
          data: [s.t].concat(codes.map(function (c) { return s.errors[c]; }))
        });
      } else {
        rGrid.appendChild(el("p", {"class": "note", text: "No request failed."}));
      }
    }
    serverPart(section, run, index);
  }

  function serverPart(section, run, index) {
    var srv = run.server || {}, ss = run.server_series || {t: []};
    section.appendChild(el("h3", {text: "Server"}));
    var pairs = [];
    if (srv.rss_mb) {
      pairs.push(["RSS", "start " + num(srv.rss_mb.start, 1) + " MB, peak " +
        num(srv.rss_mb.peak, 1) + " MB, end " + num(srv.rss_mb.end, 1) + " MB (growth " +
        num(srv.growth_percent, 1) + " %)"]);
    }
    if (srv.cpu_percent) {
      pairs.push(["CPU", "mean " + num(srv.cpu_percent.mean, 1) + " %, max " +
        num(srv.cpu_percent.max, 1) + " %"]);
    }
    if (srv.alive !== undefined) { pairs.push(["alive at the end", srv.alive ? "yes" : "no"]); }
    if (run.memory && run.memory.verdict) {
      var m = run.memory;
      pairs.push(["memory verdict", verdictSpan(m.verdict + " (" + num(m.bytes_per_request, 0) +
        " bytes/request, growth " + num(m.growth_percent, 1) + " %)", !!m.passed)]);
    }
    if (!pairs.length) {
      section.appendChild(el("p", {"class": "note", text:
        "The server was not sampled (it was given as a URL, so its process is unknown)."}));
      return;
    }
    section.appendChild(facts(pairs));
    if (ss.t.length > 1) {
      var grid = el("div", {"class": "charts"});
      section.appendChild(grid);
      addChart(grid, {
        kind: "server", run: index, title: "Server RSS and CPU",
        xLabel: "t", xValue: function (u, v) { return v === null ? "–" : num(v, 2) + " s"; },
        scales: {x: {time: false}, mb: {}, cpu: {}},
        axes: [secondsAxis("seconds since sampling began"), {scale: "mb", label: "RSS MB", size: 60},
               {scale: "cpu", label: "CPU %", side: 1, grid: {show: false}, size: 50}],
        series: [lineSeries("RSS", COLORS[3], " MB", 1, {scale: "mb"}),
                 lineSeries("CPU", COLORS[4], " %", 1, {scale: "cpu"})],
        data: [ss.t, ss.rss_mb, ss.cpu_percent]
      });
    }
  }

  // ------------------------------------------------------------------ sections

  function runFacts(run) {
    var t = run.target || {}, c = run.config || {}, acc = run.accuracy || {};
    var era = t.protocol_version ? t.protocol_version + (t.era ? " (" + t.era + ")" : "") : "–";
    var pairs = [
      ["scenario", run.scenario || "–"],
      ["pattern", run.pattern || "–"],
      ["target", t.url || "–"],
      ["transport", t.transport || c.transport || "Streamable HTTP"],
      ["protocol", era],
      ["started", run.started_at || "–"],
      ["measured window", num(run.duration_s, 1) + " s"]
    ];
    if (run.outcome) { pairs.push(["test outcome", verdictSpan(run.outcome, run.outcome === "passed")]); }
    if (acc.verdict) {
      pairs.push(["generator self-check", verdictSpan(acc.verdict + ": " + (acc.reason || ""),
        acc.verdict === "valid")]);
    }
    return facts(pairs);
  }

  function totalsTable(run) {
    var r = run.requests || {}, lat = run.latency_ms || {}, svc = run.service_time_ms || {};
    var done = (r.ok || 0) + (r.failed || 0);
    var wrap = el("div");
    wrap.appendChild(table(
      ["sent", "ok", "failed", "error rate", "ok rps"],
      [[r.sent, r.ok, r.failed, pct(r.failed || 0, done), num(run.throughput_rps, 2)]], []));
    var keys = ["min", "mean", "p50", "p90", "p99", "p999", "max"];
    wrap.appendChild(table(["ms"].concat(keys),
      [["latency"].concat(keys.map(function (k) { return num(lat[k]); })),
       ["service time"].concat(keys.map(function (k) { return num(svc[k]); }))]));
    return wrap;
  }

  function criteriaPart(section, run) {
    var crit = run.criteria || [];
    section.appendChild(el("h3", {text: "Criteria"}));
    if (!crit.length) {
      section.appendChild(el("p", {"class": "note", text: "No criteria were checked on this run."}));
      return;
    }
    section.appendChild(table(["criterion", "measured", "result"], crit.map(function (c) {
      var name = (c.name || "?") + " " + (c.op || "") + " " + (c.limit === undefined ? "" : c.limit);
      var measured = c.value === undefined || c.value === null ? "–" : c.value;
      return [name, typeof measured === "number" ? num(measured) : String(measured),
              verdictSpan(c.passed ? "passed" : "failed", !!c.passed)];
    })));
  }

  function figuresRow(name, t) {
    var l = t.latency_ms || {}, s = t.service_time_ms || {};
    return [name, t.ok, t.failed, num(t.throughput_rps), num(l.p50), num(l.p90), num(l.p99),
            num(l.max), num(s.p99)];
  }

  var FIGURE_COLUMNS = ["ok", "failed", "ok rps", "p50 ms", "p90 ms", "p99 ms", "max ms",
                        "service p99 ms"];

  function toolsPart(section, run) {
    var methods = run.per_method || {}, methodNames = Object.keys(methods);
    if (methodNames.length > 1) {
      section.appendChild(el("h3", {text: "Per method"}));
      section.appendChild(table(["method"].concat(FIGURE_COLUMNS), methodNames.map(function (m) {
        return figuresRow(m, methods[m]);
      })));
    }
    var tools = run.per_tool || {}, names = Object.keys(tools);
    section.appendChild(el("h3", {text: "Per tool / request"}));
    if (!names.length) { section.appendChild(el("p", {"class": "note", text: "No calls."})); return; }
    section.appendChild(table(["tool / request"].concat(FIGURE_COLUMNS), names.map(function (n) {
      return figuresRow(n, tools[n]);
    })));
    var codes = run.errors_by_code || {}, rows = [];
    Object.keys(codes).forEach(function (cls) {
      Object.keys(codes[cls]).forEach(function (code) { rows.push([cls, code, codes[cls][code]]); });
    });
    if (rows.length) {
      section.appendChild(el("h3", {text: "Errors by class and code"}));
      section.appendChild(table(["class", "code", "count"], rows, [0, 1]));
    }
  }

  function runSection(run, index) {
    var section = el("section", {id: "run-" + index, "class": "run"});
    section.appendChild(el("h2", {text: run.label}));
    section.appendChild(runFacts(run));
    section.appendChild(totalsTable(run));
    criteriaPart(section, run);
    var cfg = el("details", {}, [el("summary", {text: "configuration"}),
                                 el("pre", {text: JSON.stringify(run.config || {}, null, 2)})]);
    section.appendChild(cfg);
    runCharts(section, run, index);
    toolsPart(section, run);
    return section;
  }

  function summaryTable(runs) {
    return table(["test / run", "outcome", "ok rps", "ok", "failed", "error rate", "p50 ms",
                  "p99 ms", "p99.9 ms", "max ms", "self-check", "criteria"],
      runs.map(function (run, i) {
        var r = run.requests || {}, lat = run.latency_ms || {}, acc = run.accuracy || {};
        var crit = run.criteria || [];
        var passed = crit.filter(function (c) { return c.passed; });
        var link = el("a", {href: "#run-" + i, text: run.label});
        return [link, run.outcome || "–", num(run.throughput_rps, 2), r.ok, r.failed,
                pct(r.failed || 0, (r.ok || 0) + (r.failed || 0)), num(lat.p50), num(lat.p99),
                num(lat.p999), num(lat.max), acc.verdict || "–",
                crit.length ? passed.length + " / " + crit.length + " passed" : "none"];
      }), [0, 1, 10, 11]);
  }

  function change(base, value) {
    if (typeof base !== "number" || typeof value !== "number") { return "–"; }
    if (base === 0) { return value === 0 ? "0.0 %" : "–"; }
    var d = 100 * (value - base) / base;
    return (d >= 0 ? "+" : "") + d.toFixed(1) + " %";
  }

  function comparisonPart(main, runs) {
    main.appendChild(el("h2", {text: "Comparison"}));
    main.appendChild(el("p", {"class": "note", text: "Changes are relative to the first run, " +
      runs[0].label + ". Each run stands alone: a single pair of runs says nothing about noise."}));
    var metrics = [["ok rps", function (r) { return r.throughput_rps; }],
                   ["p50 ms", function (r) { return (r.latency_ms || {}).p50; }],
                   ["p90 ms", function (r) { return (r.latency_ms || {}).p90; }],
                   ["p99 ms", function (r) { return (r.latency_ms || {}).p99; }],
                   ["p99.9 ms", function (r) { return (r.latency_ms || {}).p999; }],
                   ["max ms", function (r) { return (r.latency_ms || {}).max; }]];
    var head = ["run"];
    metrics.forEach(function (m) { head.push(m[0], "change"); });
    main.appendChild(table(head, runs.map(function (run) {
      var row = [run.label];
      metrics.forEach(function (m) {
        row.push(num(m[1](run), 3), change(m[1](runs[0]), m[1](run)));
      });
      return row;
    })));
    var withSpectrum = runs.filter(function (r) { return r.spectrum && r.spectrum.latency; });
    if (withSpectrum.length) {
      var grid = el("div", {"class": "charts"});
      main.appendChild(grid);
      spectrumChart(grid, -1, "Latency spectra, overlaid", "overlay", {
        x: withSpectrum[0].spectrum.x,
        labels: withSpectrum.map(function (r) { return r.label; }),
        values: withSpectrum.map(function (r) { return r.spectrum.latency; })
      });
    }
  }

  function build() {
    var main = document.getElementById("report");
    main.textContent = "";
    document.getElementById("generated").textContent = "Written by " + DATA.generator +
      " from " + DATA.sources.map(function (s) { return s.name; }).join(", ") + ".";
    var runs = DATA.runs;
    if (!runs.length) {
      main.appendChild(el("p", {"class": "note", text: "These reports hold no load runs."}));
      return;
    }
    if (runs.length > 1) {
      main.appendChild(el("h2", {text: "Summary"}));
      main.appendChild(summaryTable(runs));
    }
    if (DATA.comparison && runs.length > 1) { comparisonPart(main, runs); }
    runs.forEach(function (run, i) { main.appendChild(runSection(run, i)); });
    window.mcpperfRenderMs = performance.now();  // since navigation began: parse + draw
    document.body.setAttribute("data-ready", "1");
  }

  build();
})();
