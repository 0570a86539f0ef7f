// RL Arena's pages: a little progressive enhancement, no build step.
// The agent page uploads versions through the web's own form route (the session token stays in
// its HttpOnly cookie) and follows their builds over the WebSocket (/api/v1/ws?ticket=, a ticket
// the server minted for this page); the match page mounts the replay player.
(function () {
  "use strict";

  function versionRow(tbody, submission) {
    var row = tbody.querySelector('tr[data-submission-id="' + submission.submissionId + '"]');
    if (!row) {
      row = document.createElement("tr");
      row.setAttribute("data-submission-id", submission.submissionId);
      ["v" + (submission.version || "?"), "", "", ""].forEach(function (value, index) {
        var cell = document.createElement("td");
        cell.textContent = value;
        if (index === 1) { cell.className = "build-status"; }
        if (index === 2) { cell.innerHTML = '<span class="note"></span>'; }
        row.appendChild(cell);
      });
      tbody.insertBefore(row, tbody.firstChild);
    }
    row.querySelector(".build-status").textContent = submission.status;
    if (submission.message) { row.querySelector(".note").textContent = submission.message; }
    return row;
  }

  function relay(ticket) {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var query = ticket ? "?ticket=" + encodeURIComponent(ticket) : "";
    return new WebSocket(scheme + location.host + "/api/v1/ws" + query);
  }

  function followBuilds(root, ticket) {
    var agentId = root.getAttribute("data-agent-id");
    var tbody = document.querySelector("#versions tbody");
    var socket = relay(ticket);
    socket.addEventListener("open", function () { root.setAttribute("data-live", "connected"); });
    socket.addEventListener("close", function () { root.setAttribute("data-live", "closed"); });
    socket.addEventListener("message", function (event) {
      var message = JSON.parse(event.data);
      if (message.type === "build_status" && message.payload.agentId === agentId) {
        versionRow(tbody, message.payload);
        var status = document.getElementById("upload-status");
        if (status && message.payload.version) {
          status.textContent = "Version " + message.payload.version + ": " + message.payload.status;
        }
      }
    });
  }

  function enableUpload(form) {
    var status = document.getElementById("upload-status");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var body = new FormData();
      body.append("file", form.elements.file.files[0]);
      status.className = "";
      status.textContent = "Uploading…";
      fetch(form.action, { method: "POST", headers: { Accept: "application/json" }, body: body, credentials: "same-origin" })
        .then(function (reply) { return reply.json().then(function (json) { return [reply.ok, json]; }); })
        .then(function (answer) {
          if (!answer[0]) { throw new Error(answer[1].error || "the upload failed"); }
          var submission = answer[1].submission;
          versionRow(document.querySelector("#versions tbody"), {
            submissionId: submission.id, version: submission.version, status: submission.status
          });
          status.textContent = "Uploaded version " + submission.version + "; building…";
          form.reset();
        })
        .catch(function (error) {
          status.className = "error";
          status.textContent = error.message;
        });
    });
  }

  // The leaderboard page: on each update of its channel, the page's own rows are fetched again
  // (rendered by the server, as on the first load) and swapped in place.
  function followLeaderboard(table) {
    var channel = "leaderboard:" + table.getAttribute("data-environment-id");
    var socket = relay(table.getAttribute("data-live-ticket"));
    socket.addEventListener("open", function () {
      socket.send(JSON.stringify({ type: "subscribe", channel: channel }));
    });
    socket.addEventListener("close", function () { table.setAttribute("data-live", "closed"); });
    socket.addEventListener("message", function (event) {
      var message = JSON.parse(event.data);
      if (message.type === "subscribed") { table.setAttribute("data-live", "connected"); }
      if (message.type !== "leaderboard_update") { return; }
      fetch(location.href, { headers: { Accept: "text/html" } })
        .then(function (reply) { return reply.text(); })
        .then(function (text) {
          var fresh = new DOMParser().parseFromString(text, "text/html").querySelector("table.leaderboard tbody");
          if (fresh) {
            table.replaceChild(document.adoptNode(fresh), table.querySelector("tbody"));
            table.setAttribute("data-updated", String(Number(table.getAttribute("data-updated") || 0) + 1));
          }
        });
    });
  }

  function start() {
    var board = document.querySelector("table.leaderboard[data-environment-id]");
    if (board) { followLeaderboard(board); }
    var agent = document.getElementById("agent");
    var ticket = agent && agent.getAttribute("data-live-ticket");
    if (ticket) { followBuilds(agent, ticket); }
    var upload = document.getElementById("upload");
    if (upload) { enableUpload(upload); }
    var replay = document.getElementById("replay-data");
    if (replay && window.RLArenaReplay) {
      var logs = document.getElementById("replay-logs");  // the viewer's own agents' only
      window.RLArenaReplay.mount(document.getElementById("replay"), JSON.parse(replay.textContent),
        { logs: logs ? JSON.parse(logs.textContent) : [] });
    }
  }

  // Deferred scripts run in order before DOMContentLoaded: wait for it, so the replay player
  // (deferred after this script) is there.
  if (document.readyState === "complete") {
    start();
  } else {
    document.addEventListener("DOMContentLoaded", start);
  }
})();
