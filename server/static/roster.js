// Roster upload: XMLHttpRequest so that a large file shows its upload progress, then the result or every row error.
(function () {
  var form = document.getElementById("roster-form");
  var bar = document.getElementById("roster-progress");
  var status = document.getElementById("roster-status");
  var table = document.getElementById("roster-errors");
  var en = form.dataset.lang === "en";

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, key) { return values[key]; });
  }

  function showErrors(problem) {
    var body = table.querySelector("tbody");
    body.textContent = "";
    (problem.details && problem.details.errors || []).forEach(function (e) {
      var tr = document.createElement("tr");
      [e.row, e.column || "", en ? e.message_en : e.message_zh].forEach(function (text) {
        var td = document.createElement("td");
        td.textContent = text;
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
    table.hidden = body.children.length === 0;
    if (!table.hidden) {
      // on a phone the list starts below the fold: bring the message and the list up, and read them out
      status.scrollIntoView({block: "start"});
      table.focus({preventScroll: true});
    }
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.dataset.url);
    xhr.setRequestHeader("X-CSRF-Token", form.dataset.csrf);
    bar.hidden = false;
    bar.value = 0;
    table.hidden = true;
    status.className = "";
    status.textContent = form.dataset.uploading;
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable) { bar.value = Math.round(100 * e.loaded / e.total); }
    };
    xhr.upload.onload = function () { bar.value = 100; status.textContent = form.dataset.checking; };
    xhr.onload = function () {
      var answer = {};
      try { answer = JSON.parse(xhr.responseText); } catch (err) { answer = {message: xhr.statusText}; }
      if (xhr.status === 200) {
        status.textContent = fill(form.dataset.done, answer);
      } else {
        status.className = "error";
        status.textContent = answer.message || xhr.statusText;
        showErrors(answer);
      }
    };
    xhr.onerror = function () { status.className = "error"; status.textContent = xhr.statusText || "network error"; };
    xhr.send(new FormData(form));
  });
})();
