/* RL Arena replay player: plain JavaScript, no build step, no dependency, no network.
 *
 *   RLArenaReplay.mount(element, replayJson, options) -> player
 *
 * draws the replay (the JSON GET /api/v1/matches/{id}/replay serves: {metadata, frames}) inside
 * `element`: tic-tac-toe and connect-four boards, chess from each frame's FEN, pong's court, ball
 * and paddles; both agents (names and versions), the result and why the game ended; controls to
 * play/pause, step back and forward, a slider to seek, a speed choice, and keys (left/right arrow
 * step, space plays or pauses). `#turn=N` in the address opens at turn N, and the address follows
 * the slider (options.hash === false turns that off). The returned player has go(turn),
 * turn() and destroy().
 *
 * options.logs (optional): agents' log lines, as GET /api/v1/matches/{id}/logs serves them to an
 * owner: [{agentId, lines: [{frame, text}]}]. Beside the board, each agent's lines printed up to
 * and during the current turn are shown (those of the current turn marked), following the slider;
 * a line whose frame is null (older results) is always shown.
 *
 * Used in two places: inlined in the self-contained HTML replay (rlarena/replays/html.py) and
 * loaded by the web app's match page (rlarena.replays.player_js()). It writes text only with
 * textContent, never HTML, so nothing in a replay (an agent's name) can become markup. The drawn
 * state is also on the board element as data attributes (data-turn, data-state) for tests.
 */
(function (global) {
  "use strict";

  var STYLE_ID = "rlarena-replay-style";
  var CSS = [
    ".rlr { font-family: system-ui, sans-serif; color: #e5e7eb; background: #111827; padding: 12px;",
    "  border-radius: 8px; max-width: 880px; }",
    ".rlr:focus { outline: 2px solid #93c5fd; }",
    ".rlr h2 { font-size: 1.15rem; margin: 0 0 6px; overflow-wrap: anywhere; }",
    ".rlr-agents { list-style: none; margin: 0 0 4px; padding: 0; }",
    ".rlr-agents li { margin: 2px 0; }",
    ".rlr-result { font-weight: 600; margin: 4px 0 10px; }",
    ".rlr-stage { display: flex; justify-content: center; margin-bottom: 10px; }",
    ".rlr-grid { display: grid; gap: 4px; padding: 6px; border-radius: 6px; }",
    ".rlr-ttt { background: #f9fafb; grid-template-columns: repeat(3, auto); }",
    ".rlr-ttt .rlr-cell { width: min(64px, 20vw); height: min(64px, 20vw); background: #ffffff;",
    "  border: 2px solid #111827; display: flex; align-items: center; justify-content: center;",
    "  font-size: min(40px, 12vw); font-weight: 700; }",
    ".rlr-ttt .rlr-x { color: #b91c1c; } .rlr-ttt .rlr-o { color: #1d4ed8; }",
    ".rlr-c4 { background: #1d4ed8; }",
    ".rlr-c4 .rlr-cell { width: min(48px, 10vw); height: min(48px, 10vw); border-radius: 50%;",
    "  background: #111827; }",
    ".rlr-c4 .rlr-red { background: #ef4444; } .rlr-c4 .rlr-yellow { background: #facc15; }",
    ".rlr-c4 .rlr-last { box-shadow: 0 0 0 3px #f9fafb; }",
    ".rlr-chess { display: grid; grid-template-columns: repeat(8, auto); border: 2px solid #374151; }",
    ".rlr-chess .rlr-cell { width: min(48px, 10vw); height: min(48px, 10vw); display: flex;",
    "  align-items: center; justify-content: center; font-size: min(36px, 7.5vw); color: #000; line-height: 1; }",
    ".rlr-chess .rlr-light { background: #f0d9b5; } .rlr-chess .rlr-dark { background: #b58863; }",
    ".rlr-court { position: relative; width: 640px; max-width: 100%; aspect-ratio: 16 / 10;",
    "  background: #000; border-radius: 6px; overflow: hidden; }",
    ".rlr-net { position: absolute; left: 50%; top: 0; bottom: 0; border-left: 2px dashed #4b5563; }",
    ".rlr-paddle { position: absolute; width: 10px; height: 20%; margin-left: -5px; background: #e5e7eb; }",
    ".rlr-ball { position: absolute; width: 16px; height: 16px; margin: -8px 0 0 -8px; border-radius: 50%;",
    "  background: #facc15; }",
    ".rlr-score { position: absolute; top: 8px; width: 50%; text-align: center; font: 28px monospace; }",
    ".rlr-fen { font-family: monospace; text-align: center; word-break: break-all; margin-bottom: 8px; }",
    ".rlr-controls { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; margin-bottom: 8px; }",
    ".rlr button, .rlr select { background: #374151; color: #f9fafb; border: 1px solid #6b7280;",
    "  border-radius: 4px; padding: 5px 12px; font-size: 0.95rem; cursor: pointer; }",
    ".rlr button:focus-visible, .rlr select:focus-visible, .rlr input:focus-visible {",
    "  outline: 2px solid #93c5fd; outline-offset: 2px; }",
    ".rlr-seek { display: flex; gap: 8px; align-items: center; flex: 1; min-width: min(220px, 100%); }",
    ".rlr-seek input { min-width: 0; }",
    ".rlr-seek input { flex: 1; }",
    ".rlr-main { display: flex; flex-wrap: wrap; gap: 10px; align-items: flex-start; }",
    ".rlr-main .rlr-stage { flex: 1 1 auto; }",
    ".rlr-logs { flex: 1 1 240px; min-width: 0; max-width: 100%; }",
    ".rlr-logs h3 { font-size: 0.95rem; margin: 0 0 4px; overflow-wrap: anywhere; }",
    ".rlr-log { background: #1f2937; border-radius: 6px; padding: 6px 8px; margin: 0 0 8px; max-height: 320px;",
    "  overflow: auto; font: 0.8rem/1.35 monospace; list-style: none; }",
    ".rlr-log li { white-space: pre-wrap; word-break: break-word; color: #9ca3af; }",
    ".rlr-log li[data-current] { color: #f9fafb; background: #374151; }",
    ".rlr-details { background: #1f2937; border-radius: 6px; padding: 8px; font-size: 0.85rem;",
    "  white-space: pre-wrap; word-break: break-word; margin: 0; }"
  ].join("\n");

  // Glyphs by FEN letter: outlined for white, solid for black.
  var PIECES = { K: "\u2654", Q: "\u2655", R: "\u2656", B: "\u2657", N: "\u2658", P: "\u2659",
    k: "\u265A", q: "\u265B", r: "\u265C", b: "\u265D", n: "\u265E", p: "\u265F" };
  var PIECE_NAMES = { k: "king", q: "queen", r: "rook", b: "bishop", n: "knight", p: "pawn" };
  // What each game calls its two sides (player 0 first).
  var SIDES = { "tic-tac-toe": ["X", "O"], "connect-four": ["red", "yellow"], chess: ["white", "black"],
    pong: ["left paddle", "right paddle"] };
  // Milliseconds per turn at 1x: pong is a fast game of many small steps.
  var PACE = { pong: 40 };

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text != null) { node.textContent = String(text); }
    return node;
  }

  function list(value) { return Array.isArray(value) ? value : []; }

  function gameOf(meta) {
    // "chess-v6" -> "chess": the executor names environments with a version suffix.
    return String(meta.environment || "").replace(/-v\d+$/, "");
  }

  function installStyle() {
    if (document.getElementById(STYLE_ID)) { return; }
    var style = el("style");
    style.id = STYLE_ID;
    style.textContent = CSS;
    document.head.appendChild(style);
  }

  function agentLabels(meta) {
    var ids = list(meta.agents), names = list(meta.agent_names), versions = list(meta.agent_versions);
    return ids.map(function (id, i) {
      var name = names[i] ? String(names[i]) : String(id);
      return versions[i] != null ? name + " (v" + String(versions[i]) + ")" : name;
    });
  }

  function resultText(meta, labels) {
    var ids = list(meta.agents), at = ids.indexOf(meta.winner);
    if (meta.winner != null && meta.winner !== "") {
      return "Winner: " + (at >= 0 ? labels[at] : String(meta.winner));
    }
    if (meta.status == null || meta.status === "SUCCESS") { return "Result: draw"; }
    return "Result: not finished (" + String(meta.status) + ")";
  }

  function turnFromHash() {
    var found = /(?:^#|&)turn=(\d+)/.exec(global.location ? global.location.hash : "");
    return found ? Number(found[1]) : null;
  }

  function drawTicTacToe(stage, board) {
    var grid = el("div", "rlr-grid rlr-ttt");
    grid.setAttribute("role", "img");
    var marks = [];
    board.forEach(function (row, r) {
      list(row).forEach(function (value, c) {
        var mark = Number(value) === 1 ? "X" : Number(value) === 2 ? "O" : "";
        var cell = el("div", "rlr-cell" + (mark ? " rlr-" + mark.toLowerCase() : ""), mark);
        cell.setAttribute("data-cell", String(value));
        marks.push("row " + (r + 1) + " column " + (c + 1) + ": " + (mark || "empty"));
        grid.appendChild(cell);
      });
    });
    grid.setAttribute("aria-label", "Tic-tac-toe board. " + marks.join("; "));
    stage.appendChild(grid);
  }

  function drawConnectFour(stage, board, lastAction) {
    var cols = board.length ? list(board[0]).length : 0;
    var grid = el("div", "rlr-grid rlr-c4");
    grid.style.gridTemplateColumns = "repeat(" + cols + ", auto)";
    grid.setAttribute("role", "img");
    var counts = [0, 0], top = -1;
    board.forEach(function (row, r) {  // the last disc dropped is the top one of its column
      if (top < 0 && Number(list(row)[Number(lastAction)]) > 0) { top = r; }
    });
    board.forEach(function (row, r) {
      list(row).forEach(function (value, c) {
        var v = Number(value), colour = v === 1 ? "red" : v === 2 ? "yellow" : "";
        var cell = el("div", "rlr-cell" + (colour ? " rlr-" + colour : ""));
        if (r === top && c === Number(lastAction)) { cell.className += " rlr-last"; }
        cell.setAttribute("data-cell", String(value));
        if (v === 1 || v === 2) { counts[v - 1] += 1; }
        grid.appendChild(cell);
      });
    });
    grid.setAttribute("aria-label", "Connect-four board: " + counts[0] + " red and " + counts[1] +
      " yellow discs" + (lastAction != null ? ", last move in column " + (Number(lastAction) + 1) : ""));
    stage.appendChild(grid);
  }

  function drawChess(stage, fen) {
    var ranks = String(fen).split(" ")[0].split("/");
    var grid = el("div", "rlr-chess");
    grid.setAttribute("role", "img");
    grid.setAttribute("aria-label", "Chess position " + String(fen));
    for (var r = 0; r < 8; r++) {
      var squares = [], row = ranks[r] || "";
      for (var k = 0; k < row.length && squares.length < 8; k++) {
        var ch = row.charAt(k);
        if (/[1-8]/.test(ch)) {
          for (var n = 0; n < Number(ch); n++) { squares.push(""); }
        } else { squares.push(ch); }
      }
      while (squares.length < 8) { squares.push(""); }
      for (var c = 0; c < 8; c++) {
        var piece = squares[c];
        var cell = el("div", "rlr-cell " + ((r + c) % 2 ? "rlr-dark" : "rlr-light"), PIECES[piece] || piece);
        cell.setAttribute("data-square", "abcdefgh".charAt(c) + (8 - r));
        cell.setAttribute("data-piece", piece);
        if (piece) {
          cell.title = (piece === piece.toUpperCase() ? "white " : "black ") + (PIECE_NAMES[piece.toLowerCase()] || piece);
        }
        grid.appendChild(cell);
      }
    }
    stage.appendChild(grid);
  }

  function drawPong(stage, info) {
    var court = el("div", "rlr-court");
    court.setAttribute("role", "img");
    court.appendChild(el("div", "rlr-net"));
    var paddles = list(info.paddle_positions), score = list(info.score), ball = list(info.ball_pos);
    [0.05, 0.95].forEach(function (x, p) {
      var y = Number(paddles[p]);
      if (!isFinite(y)) { return; }
      var paddle = el("div", "rlr-paddle");
      paddle.setAttribute("data-paddle", String(p));
      paddle.style.left = (x * 100) + "%";
      paddle.style.top = ((y - 0.1) * 100) + "%";
      court.appendChild(paddle);
    });
    if (isFinite(Number(ball[0])) && isFinite(Number(ball[1])) && ball.length === 2) {
      var dot = el("div", "rlr-ball");
      dot.style.left = (Number(ball[0]) * 100) + "%";
      dot.style.top = (Number(ball[1]) * 100) + "%";
      court.appendChild(dot);
    }
    [0, 1].forEach(function (p) {
      var points = el("div", "rlr-score", score[p] != null ? score[p] : "");
      points.setAttribute("data-score", String(p));
      points.style.left = (p * 50) + "%";
      court.appendChild(points);
    });
    court.setAttribute("aria-label", "Pong: score " + String(score[0]) + " to " + String(score[1]));
    stage.appendChild(court);
  }

  function shown(value) { return value == null ? "-" : typeof value === "string" ? value : JSON.stringify(value); }

  // The log panel of options.logs (see the header): {panel: element or null, show(turn)}.
  function logPanels(entries, labels, meta) {
    var agents = list(entries).filter(function (entry) { return entry && typeof entry === "object"; });
    if (!agents.length) { return { panel: null, show: function () {} }; }
    var ids = list(meta.agents).map(String);
    var panel = el("aside", "rlr-logs");
    panel.setAttribute("data-role", "logs");
    panel.setAttribute("aria-label", "Your agents' logs");
    var lists = agents.map(function (entry) {
      var at = ids.indexOf(String(entry.agentId));
      panel.appendChild(el("h3", null, "Logs of " + (at >= 0 ? labels[at] : String(entry.agentId))));
      var items = el("ol", "rlr-log");
      items.setAttribute("data-agent-log", String(entry.agentId));
      items.setAttribute("aria-live", "off");
      panel.appendChild(items);
      return { items: items, lines: list(entry.lines) };
    });
    function show(turn) {
      lists.forEach(function (log) {
        log.items.textContent = "";
        var current = null;
        log.lines.forEach(function (line) {
          var frame = line && typeof line.frame === "number" ? line.frame : null;
          if (frame != null && frame > turn) { return; }
          var item = el("li", null, line && line.text != null ? line.text : "");
          if (frame != null) { item.setAttribute("data-frame", String(frame)); }
          if (frame === turn) { item.setAttribute("data-current", ""); current = current || item; }
          log.items.appendChild(item);
        });
        if (!log.items.childNodes.length) { log.items.appendChild(el("li", null, "(nothing printed yet)")); }
        log.items.scrollTop = current ? current.offsetTop - log.items.offsetTop : log.items.scrollHeight;
      });
    }
    return { panel: panel, show: show };
  }

  function mount(element, replay, options) {
    options = options || {};
    installStyle();
    var meta = (replay && typeof replay.metadata === "object" && replay.metadata) || {};
    var frames = list(replay && replay.frames);
    var game = gameOf(meta), sides = SIDES[game] || ["player 1", "player 2"];
    var labels = agentLabels(meta), useHash = options.hash !== false;
    var index = 0, timer = null;

    element.textContent = "";
    var root = el("section", "rlr");
    root.setAttribute("tabindex", "0");
    root.setAttribute("aria-label", "Replay player");
    root.appendChild(el("h2", "rlr-title", "Replay of " + (game || "a match") +
      (meta.match_id ? " (match " + String(meta.match_id) + ")" : "")));
    var agents = el("ul", "rlr-agents");
    agents.setAttribute("data-role", "agents");
    labels.forEach(function (label, i) {
      var item = el("li", null, (sides[i] || "player " + (i + 1)) + ": " + label);
      item.setAttribute("data-agent", String(i));
      agents.appendChild(item);
    });
    root.appendChild(agents);
    var result = el("div", "rlr-result");
    result.appendChild(el("span", null, resultText(meta, labels)));
    if (meta.end_reason) {
      result.appendChild(document.createTextNode(" \u00b7 "));
      var reason = el("span", null, "Ended by: " + String(meta.end_reason));
      reason.setAttribute("data-role", "end-reason");
      result.appendChild(reason);
    }
    result.setAttribute("data-role", "result");
    root.appendChild(result);

    var stage = el("div", "rlr-stage");
    stage.setAttribute("data-role", "board");
    stage.setAttribute("aria-live", "off");
    var logs = logPanels(options.logs, labels, meta);
    if (logs.panel) {
      var main = el("div", "rlr-main");
      main.appendChild(stage);
      main.appendChild(logs.panel);
      root.appendChild(main);
    } else {
      root.appendChild(stage);
    }
    var fen = el("div", "rlr-fen");
    root.appendChild(fen);

    var controls = el("div", "rlr-controls");
    var back = el("button", null, "\u25C0 Step back");
    var play = el("button", null, "Play");
    var forward = el("button", null, "Step forward \u25B6");
    [back, play, forward].forEach(function (button, i) {
      button.type = "button";
      button.setAttribute("data-control", ["back", "play", "forward"][i]);
      controls.appendChild(button);
    });
    back.setAttribute("aria-label", "Step back");
    play.setAttribute("aria-label", "Play");
    forward.setAttribute("aria-label", "Step forward");
    var speedLabel = el("label", null, "Speed ");
    var speed = el("select");
    speed.setAttribute("data-control", "speed");
    [0.25, 0.5, 1, 2, 4, 8].forEach(function (factor) {
      var option = el("option", null, factor + "x");
      option.value = String(factor);
      option.selected = factor === 1;
      speed.appendChild(option);
    });
    speedLabel.appendChild(speed);
    controls.appendChild(speedLabel);
    var seek = el("label", "rlr-seek");
    seek.appendChild(el("span", null, "Turn"));
    var slider = el("input");
    slider.type = "range";
    slider.min = "0";
    slider.max = String(Math.max(0, frames.length - 1));
    slider.value = "0";
    slider.setAttribute("data-control", "seek");
    seek.appendChild(slider);
    var counter = el("output", null, "");
    counter.setAttribute("data-role", "counter");
    counter.setAttribute("aria-live", "polite");
    seek.appendChild(counter);
    controls.appendChild(seek);
    root.appendChild(controls);
    var details = el("pre", "rlr-details");
    details.setAttribute("data-role", "details");
    root.appendChild(details);
    element.appendChild(root);

    function render() {
      var frame = frames[index] || null, info = (frame && frame.info) || {};
      stage.textContent = "";
      fen.textContent = "";
      var state = null;
      if (info.ball_pos || info.paddle_positions) {
        drawPong(stage, info);
        state = { ball: info.ball_pos, paddles: info.paddle_positions, score: info.score };
      } else if (Array.isArray(info.board) && info.board.length) {
        if (game === "tic-tac-toe" || (info.board.length === 3 && list(info.board[0]).length === 3)) {
          drawTicTacToe(stage, info.board);
        } else {
          drawConnectFour(stage, info.board, info.last_action);
        }
        state = info.board;
      } else if (typeof info.fen === "string") {
        drawChess(stage, info.fen);
        fen.textContent = info.fen + (info.last_move ? "  (last move " + info.last_move + ")" : "");
        state = info.fen;
      } else {
        stage.appendChild(el("p", null, frame ? "No drawing for this game." : "This replay has no turns."));
      }
      stage.setAttribute("data-turn", String(index));
      stage.setAttribute("data-state", JSON.stringify(state));
      slider.value = String(index);
      slider.setAttribute("aria-valuetext", "turn " + index + " of " + Math.max(0, frames.length - 1));
      counter.textContent = frames.length ? "Turn " + index + " / " + (frames.length - 1) : "no turns";
      var lines = [];
      if (frame) {
        labels.forEach(function (label, i) {
          lines.push(label + ": action " + shown(list(frame.actions)[i]) + ", reward " + shown(list(frame.rewards)[i]));
        });
        if (frame.done) { lines.push("game over"); }
      }
      if (meta.agent_statuses) { lines.push("statuses: " + shown(meta.agent_statuses)); }
      details.textContent = lines.join("\n");
      logs.show(index);
    }

    function go(to, fromHash) {
      var last = Math.max(0, frames.length - 1);
      index = Math.max(0, Math.min(last, Math.floor(Number(to)) || 0));
      render();
      if (useHash && !fromHash && global.history && global.history.replaceState) {
        global.history.replaceState(null, "", "#turn=" + index);
      }
    }
    function stop() {
      if (timer) { clearInterval(timer); timer = null; }
      play.textContent = "Play";
      play.setAttribute("aria-label", "Play");
    }
    function start() {
      stop();
      if (index >= frames.length - 1) { go(0); }
      play.textContent = "Pause";
      play.setAttribute("aria-label", "Pause");
      timer = setInterval(function () {
        if (index >= frames.length - 1) { stop(); return; }
        go(index + 1);
      }, (PACE[game] || 500) / Number(speed.value));
    }
    function toggle() { if (timer) { stop(); } else { start(); } }

    play.addEventListener("click", toggle);
    back.addEventListener("click", function () { stop(); go(index - 1); });
    forward.addEventListener("click", function () { stop(); go(index + 1); });
    speed.addEventListener("change", function () { if (timer) { start(); } });
    slider.addEventListener("input", function () { stop(); go(slider.value); });
    function onKey(event) {
      var target = event.target, tag = target && target.tagName;
      var ours = target === document.body || target === document.documentElement || root.contains(target);
      if (!ours || event.altKey || event.ctrlKey || event.metaKey || tag === "INPUT" || tag === "SELECT" ||
          tag === "TEXTAREA") { return; }
      if (event.key === "ArrowLeft") { event.preventDefault(); stop(); go(index - 1); }
      else if (event.key === "ArrowRight") { event.preventDefault(); stop(); go(index + 1); }
      else if (event.key === " " && tag !== "BUTTON") { event.preventDefault(); toggle(); }
    }
    function onHash() { var turn = turnFromHash(); if (turn != null) { stop(); go(turn, true); } }
    document.addEventListener("keydown", onKey);
    if (useHash) { global.addEventListener("hashchange", onHash); }

    var opening = useHash ? turnFromHash() : null;
    index = 0;
    if (opening != null) { go(opening, true); } else { render(); }

    return {
      go: function (turn) { stop(); go(turn); },
      turn: function () { return index; },
      destroy: function () {
        stop();
        document.removeEventListener("keydown", onKey);
        if (useHash) { global.removeEventListener("hashchange", onHash); }
        element.textContent = "";
      }
    };
  }

  global.RLArenaReplay = { mount: mount };
}(window));
