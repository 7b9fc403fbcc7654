// Progress for the back office's CSV exports. A link or form marked data-export is fetched
// here instead of followed: the server counts the export's rows first and sends the count
// in X-Export-Rows; the rows are counted as they stream in ("N of M rows") and the file is
// saved once complete. Without JavaScript the link or form downloads the file as it always
// did. Loaded from /dashboard/static (the pages' CSP allows scripts from 'self' only).
(function () {
  "use strict";

  // box is the status line of the export marked name, made once, after the element.
  function box(el, name) {
    var id = "export-progress-" + name;
    var p = document.getElementById(id);
    if (p) {
      return p;
    }
    p = document.createElement("p");
    p.id = id;
    p.className = "export-progress";
    p.setAttribute("role", "status");
    p.setAttribute("aria-live", "polite");
    p.appendChild(document.createElement("progress"));
    p.appendChild(document.createTextNode(" "));
    p.appendChild(document.createElement("span"));
    el.insertAdjacentElement("afterend", p);
    return p;
  }

  function show(p, rows, total, text) {
    var bar = p.querySelector("progress");
    if (total !== null && total > 0) {
      bar.max = total;
      bar.value = Math.min(rows, total);
    } else if (total === 0) {
      bar.max = 1;
      bar.value = 1;
    } else {
      bar.removeAttribute("value");
    }
    p.dataset.rows = String(rows);
    p.dataset.total = total === null ? "" : String(total);
    p.querySelector("span").textContent = text;
  }

  function label(rows, total) {
    return total === null ? rows + " rows" : rows + " of " + total + " rows";
  }

  function filename(res, fallback) {
    var m = /filename="([^"]+)"/.exec(res.headers.get("Content-Disposition") || "");
    return m ? m[1] : fallback;
  }

  // save hands the finished file to the browser as a download.
  function save(chunks, name) {
    var url = URL.createObjectURL(new Blob(chunks, { type: "text/csv;charset=utf-8" }));
    var a = document.createElement("a");
    a.href = url;
    a.download = name;
    a.hidden = true;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(function () { URL.revokeObjectURL(url); }, 60000);
  }

  function run(el, name, url) {
    var p = box(el, name);
    if (p.dataset.state === "running") {
      return; // one export of a kind at a time
    }
    p.dataset.state = "running";
    show(p, 0, null, "Starting the export…");
    fetch(url, { credentials: "same-origin" }).then(function (res) {
      if (!res.ok || !res.body) {
        // An error page (a bad filter, an ended session): show it as the link would.
        p.dataset.state = "";
        window.location.assign(url);
        return;
      }
      var h = res.headers.get("X-Export-Rows");
      var total = h !== null && /^\d+$/.test(h) ? parseInt(h, 10) : null;
      var reader = res.body.getReader();
      var chunks = [];
      var records = 0; // complete CSV records, the header row included
      var quoted = false;
      function pump() {
        return reader.read().then(function (r) {
          if (r.done) {
            var rows = Math.max(records - 1, 0);
            var file = filename(res, name + ".csv");
            save(chunks, file);
            p.dataset.state = "done";
            p.dataset.file = file;
            show(p, rows, total, label(rows, total) + " · saved " + file);
            return;
          }
          var b = r.value;
          for (var i = 0; i < b.length; i++) {
            // A newline ends a record unless it is inside a quoted field; a doubled quote
            // in a field flips twice. Both bytes are ASCII, never part of a UTF-8 sequence.
            if (b[i] === 0x22) {
              quoted = !quoted;
            } else if (b[i] === 0x0a && !quoted) {
              records++;
            }
          }
          chunks.push(b);
          show(p, Math.max(records - 1, 0), total, label(Math.max(records - 1, 0), total));
          return pump();
        });
      }
      return pump();
    }).catch(function (err) {
      p.dataset.state = "failed";
      show(p, Number(p.dataset.rows || 0), null, "The export stopped: " + err.message + ". Try again.");
    });
  }

  document.addEventListener("click", function (ev) {
    var a = ev.target.closest && ev.target.closest("a[data-export]");
    if (!a || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey || !window.fetch || !window.ReadableStream) {
      return;
    }
    ev.preventDefault();
    run(a, a.dataset.export, a.href);
  });
  document.addEventListener("submit", function (ev) {
    var f = ev.target;
    if (!f.matches || !f.matches("form[data-export]") || !window.fetch || !window.ReadableStream) {
      return;
    }
    ev.preventDefault();
    var q = new URLSearchParams(new FormData(f)).toString();
    run(f, f.dataset.export, f.action + (q ? "?" + q : ""));
  });
})();
