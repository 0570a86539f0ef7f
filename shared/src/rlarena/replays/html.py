"""One self-contained HTML page that plays a replay: no external URL, the replay JSON inline.

The replay is embedded as a `<script type="application/json">` block with `<`, `>`, `&` and the
JavaScript line separators escaped as JSON unicode escapes, so no string in it (an agent name, an
observation) can close the script element or open another; the page reads it back with
`JSON.parse` and only ever writes text with `textContent`, never HTML. The summary at the top
(the agents by name and version, the winner, why the game ended) is written into the page
itself, escaped, so it reads without JavaScript too.
"""

from __future__ import annotations

import html
import json
import math
import re
from typing import Any

DATA_ELEMENT_ID = "replay-data"

_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"}
_PLACEHOLDER = re.compile(r"@@(TITLE|SUMMARY|DATA_ID|DATA)@@")


def embed_json(value: Any) -> str:
    """JSON text safe inside a script element: still valid JSON meaning exactly `value`.

    ASCII only (so U+2028/U+2029 and lone surrogates arrive escaped); NaN and infinities, which
    JSON cannot carry, become null.
    """
    text = json.dumps(_finite(value), ensure_ascii=True, separators=(",", ":"), allow_nan=False, default=str)
    return "".join(_ESCAPES.get(char, char) for char in text)


def render_html(replay: dict[str, Any]) -> str:
    metadata = replay.get("metadata")
    if not isinstance(metadata, dict):
        metadata = {}
    title = f"RL Arena replay {metadata.get('match_id', '')} ({metadata.get('environment', '')})"
    values = {
        "TITLE": html.escape(str(title)),
        "SUMMARY": html.escape(summary(metadata)),
        "DATA_ID": DATA_ELEMENT_ID,
        "DATA": embed_json(replay),
    }
    # One pass: text substituted in is never scanned for placeholders again.
    return _PLACEHOLDER.sub(lambda found: values[found.group(1)], _TEMPLATE)


def summary(metadata: dict[str, Any]) -> str:
    """ "alpha (v3) vs beta (v1) | winner: alpha | checkmate": names where the replay has them."""
    ids = _listed(metadata.get("agents"))
    names = _listed(metadata.get("agent_names"))
    versions = _listed(metadata.get("agent_versions"))
    shown = [str(names[i]) if i < len(names) and names[i] else str(agent_id) for i, agent_id in enumerate(ids)]
    labels = [
        f"{name} (v{versions[i]})" if i < len(versions) and versions[i] is not None else name
        for i, name in enumerate(shown)
    ]
    winner = metadata.get("winner")
    if winner and winner in ids:
        outcome = f"winner: {shown[ids.index(winner)]}"
    else:
        outcome = "winner: none (draw)" if metadata.get("status", "SUCCESS") == "SUCCESS" else "not finished"
    parts = [" vs ".join(labels) or "?", outcome]
    if metadata.get("end_reason"):
        parts.append(f"ended: {metadata['end_reason']}")
    if metadata.get("is_rated") is not None:
        parts.append("rated" if metadata["is_rated"] else "unrated")
    return " | ".join(parts)


def _listed(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else []


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(key): _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>@@TITLE@@</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 0; background: #111827; color: #e5e7eb; }
  main { max-width: 900px; margin: 0 auto; padding: 16px; }
  h1 { font-size: 1.2rem; margin: 0 0 8px; }
  .meta { color: #9ca3af; font-size: 0.9rem; margin-bottom: 12px; }
  .summary { font-size: 1rem; margin-bottom: 4px; }
  canvas { background: #000; display: block; margin: 0 auto 12px; max-width: 100%; border-radius: 6px; }
  .controls { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; margin-bottom: 12px; }
  button, select { background: #374151; color: #e5e7eb; border: 1px solid #4b5563; border-radius: 4px;
    padding: 4px 10px; font-size: 0.95rem; cursor: pointer; }
  input[type=range] { flex: 1; min-width: 160px; }
  #fen { font-family: monospace; text-align: center; margin-bottom: 8px; word-break: break-all; }
  .panels { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; }
  .panel { background: #1f2937; border-radius: 6px; padding: 8px; }
  .panel h2 { font-size: 0.95rem; margin: 0 0 6px; }
  pre { margin: 0; white-space: pre-wrap; word-break: break-word; font-size: 0.8rem; max-height: 260px;
    overflow: auto; }
  @media (max-width: 640px) { .panels { grid-template-columns: 1fr; } }
</style>
</head>
<body>
<main>
  <h1 id="title">Replay</h1>
  <div class="summary" id="summary">@@SUMMARY@@</div>
  <div class="meta" id="meta"></div>
  <canvas id="board" width="640" height="400"></canvas>
  <div id="fen"></div>
  <div class="controls">
    <button id="back" title="Step back">&#9198;</button>
    <button id="play" title="Play or pause">Play</button>
    <button id="forward" title="Step forward">&#9197;</button>
    <label>Speed <select id="speed">
      <option value="0.25">0.25x</option><option value="0.5">0.5x</option>
      <option value="1" selected>1x</option><option value="2">2x</option>
      <option value="4">4x</option><option value="8">8x</option>
    </select></label>
    <input type="range" id="slider" min="0" max="0" value="0">
    <span id="counter"></span>
  </div>
  <div class="panels">
    <div class="panel"><h2>Agents</h2><pre id="agents"></pre></div>
    <div class="panel"><h2>Frame</h2><pre id="frame"></pre></div>
  </div>
</main>
<script type="application/json" id="@@DATA_ID@@">@@DATA@@</script>
<script>
(function () {
  "use strict";
  var replay = JSON.parse(document.getElementById("@@DATA_ID@@").textContent);
  var meta = replay.metadata || {};
  var frames = Array.isArray(replay.frames) ? replay.frames : [];
  var names = Array.isArray(meta.agent_names) ? meta.agent_names : [];
  var agents = (Array.isArray(meta.agents) ? meta.agents : []).map(function (agent, i) {
    return names[i] ? String(names[i]) : agent;
  });
  var env = String(meta.environment || "");
  var canvas = document.getElementById("board");
  var ctx = canvas.getContext("2d");
  var slider = document.getElementById("slider");
  var playButton = document.getElementById("play");
  var speed = document.getElementById("speed");
  var index = 0, timer = null;
  var DRAWN = { ball_pos: 1, paddle_positions: 1, score: 1, board: 1, fen: 1 };
  var LOG_KEYS = ["statuses", "status", "agent_statuses", "logs", "log", "agent_logs", "stderr", "messages"];
  var PIECES = { K: "\\u2654", Q: "\\u2655", R: "\\u2656", B: "\\u2657", N: "\\u2658", P: "\\u2659",
    k: "\\u265A", q: "\\u265B", r: "\\u265C", b: "\\u265D", n: "\\u265E", p: "\\u265F" };

  function text(id, value) { document.getElementById(id).textContent = value; }
  function show(value) {
    return typeof value === "string" ? value : JSON.stringify(value, null, 1);
  }

  document.title = "Replay " + String(meta.match_id || "") + " - " + env;
  text("title", "Replay of " + (env || "a match"));
  var winnerAt = Array.isArray(meta.agents) ? meta.agents.indexOf(meta.winner) : -1;
  text("meta", "Match " + String(meta.match_id || "?") + " | " + agents.map(String).join(" vs ") +
    " | winner: " + (meta.winner ? String(winnerAt >= 0 ? agents[winnerAt] : meta.winner) : "draw / none") +
    (meta.end_reason ? " | ended: " + String(meta.end_reason) : "") + " | status: " +
    String(meta.status || "?") + " | steps: " + String(meta.total_steps == null ? frames.length : meta.total_steps) +
    " | seed: " + String(meta.seed == null ? "-" : meta.seed));
  slider.max = String(Math.max(0, frames.length - 1));

  function clear() { ctx.fillStyle = "#000"; ctx.fillRect(0, 0, canvas.width, canvas.height); }

  function drawPong(info) {
    canvas.width = 640; canvas.height = 400; clear();
    var w = canvas.width, h = canvas.height;
    ctx.strokeStyle = "#444"; ctx.setLineDash([8, 8]);
    ctx.beginPath(); ctx.moveTo(w / 2, 0); ctx.lineTo(w / 2, h); ctx.stroke(); ctx.setLineDash([]);
    var paddles = info.paddle_positions || [0.5, 0.5];
    var xs = [0.05, 0.95], ph = 0.2 * h, pw = 10;
    ctx.fillStyle = "#e5e7eb";
    for (var p = 0; p < 2; p++) {
      var y = Number(paddles[p]); if (!isFinite(y)) { continue; }
      ctx.fillRect(xs[p] * w - pw / 2, y * h - ph / 2, pw, ph);
    }
    var ball = info.ball_pos;
    if (ball && isFinite(Number(ball[0])) && isFinite(Number(ball[1]))) {
      ctx.beginPath(); ctx.arc(Number(ball[0]) * w, Number(ball[1]) * h, 0.02 * h, 0, 2 * Math.PI);
      ctx.fillStyle = "#facc15"; ctx.fill();
    }
    var score = info.score || [0, 0];
    ctx.fillStyle = "#e5e7eb"; ctx.font = "32px monospace"; ctx.textAlign = "center";
    ctx.fillText(String(score[0]), w / 4, 40); ctx.fillText(String(score[1]), 3 * w / 4, 40);
  }

  function drawGrid(board, lastAction) {
    var rows = board.length, cols = rows ? board[0].length : 0, cell = 64;
    var discs = rows !== 3 || cols !== 3;
    canvas.width = Math.max(cols * cell, 1); canvas.height = Math.max(rows * cell, 1);
    ctx.fillStyle = discs ? "#1d4ed8" : "#f9fafb"; ctx.fillRect(0, 0, canvas.width, canvas.height);
    for (var r = 0; r < rows; r++) {
      for (var c = 0; c < cols; c++) {
        var v = Number(board[r][c]), x = c * cell, y = r * cell;
        var cx = x + cell / 2, cy = y + cell / 2;
        if (discs) {
          ctx.beginPath(); ctx.arc(cx, cy, cell * 0.4, 0, 2 * Math.PI);
          ctx.fillStyle = v === 1 ? "#ef4444" : v === 2 ? "#facc15" : "#111827"; ctx.fill();
        } else {
          ctx.strokeStyle = "#111827"; ctx.lineWidth = 2; ctx.strokeRect(x, y, cell, cell);
          ctx.lineWidth = 6;
          if (v === 1) {
            ctx.strokeStyle = "#dc2626"; ctx.beginPath();
            ctx.moveTo(x + 14, y + 14); ctx.lineTo(x + cell - 14, y + cell - 14);
            ctx.moveTo(x + cell - 14, y + 14); ctx.lineTo(x + 14, y + cell - 14); ctx.stroke();
          } else if (v === 2) {
            ctx.strokeStyle = "#2563eb"; ctx.beginPath(); ctx.arc(cx, cy, cell * 0.3, 0, 2 * Math.PI); ctx.stroke();
          }
        }
      }
    }
    ctx.lineWidth = 1;
    if (discs && lastAction != null && isFinite(Number(lastAction))) {
      ctx.fillStyle = "#f9fafb"; ctx.beginPath();
      var lx = Number(lastAction) * cell + cell / 2;
      ctx.moveTo(lx - 6, 2); ctx.lineTo(lx + 6, 2); ctx.lineTo(lx, 10); ctx.fill();
    }
  }

  function drawChess(fen) {
    var cell = 48, placement = String(fen).split(" ")[0].split("/");
    canvas.width = 8 * cell; canvas.height = 8 * cell;
    ctx.textAlign = "center"; ctx.textBaseline = "middle"; ctx.font = (cell * 0.8) + "px serif";
    for (var r = 0; r < 8; r++) {
      var row = placement[r] || "", c = 0;
      for (var i = 0; i < 8; i++) {
        ctx.fillStyle = (r + i) % 2 ? "#b58863" : "#f0d9b5"; ctx.fillRect(i * cell, r * cell, cell, cell);
      }
      for (var k = 0; k < row.length && c < 8; k++) {
        var ch = row.charAt(k);
        if (/[1-8]/.test(ch)) { c += Number(ch); continue; }
        if (PIECES[ch]) { ctx.fillStyle = "#000"; ctx.fillText(PIECES[ch], c * cell + cell / 2, r * cell + cell / 2); }
        c += 1;
      }
    }
    ctx.textBaseline = "alphabetic";
  }

  function agentLines(frame) {
    var info = (frame && frame.info) || {}, lines = [];
    agents.forEach(function (agent, i) {
      var line = "Agent " + (i + 1) + ": " + String(agent);
      if (frame && Array.isArray(frame.actions)) { line += " | action: " + show(frame.actions[i]); }
      if (frame && Array.isArray(frame.rewards)) { line += " | reward: " + show(frame.rewards[i]); }
      lines.push(line);
    });
    [info, meta].forEach(function (source) {
      LOG_KEYS.forEach(function (key) {
        if (source[key] != null) { lines.push(key + ": " + show(source[key])); }
      });
    });
    return lines.join("\\n");
  }

  function render() {
    var frame = frames[index];
    slider.value = String(index);
    text("counter", frames.length ? (index + 1) + " / " + frames.length : "no frames");
    text("fen", "");
    if (!frame) { clear(); text("agents", agentLines(null)); text("frame", ""); return; }
    var info = frame.info || {};
    if (info.ball_pos || info.paddle_positions) {
      drawPong(info);
    } else if (Array.isArray(info.board) && info.board.length) {
      drawGrid(info.board, info.last_action);
    } else if (typeof info.fen === "string") {
      drawChess(info.fen);
      text("fen", info.fen + (info.last_move ? "  (last move " + info.last_move + ")" : ""));
    } else {
      clear();
    }
    var rest = {};
    Object.keys(info).forEach(function (key) { if (!DRAWN[key]) { rest[key] = info[key]; } });
    text("agents", agentLines(frame));
    text("frame", "frame " + String(frame.frame_number) + (frame.done ? " (done)" : "") +
      "\\ninfo: " + show(rest) + "\\nobservations: " + show(frame.observations));
  }

  function go(to) { index = Math.max(0, Math.min(frames.length - 1, to)); render(); }
  function stop() { if (timer) { clearInterval(timer); timer = null; } playButton.textContent = "Play"; }
  function start() {
    stop();
    if (index >= frames.length - 1) { index = 0; }
    playButton.textContent = "Pause";
    timer = setInterval(function () {
      if (index >= frames.length - 1) { stop(); return; }
      go(index + 1);
    }, 200 / Number(speed.value));
  }
  playButton.addEventListener("click", function () { if (timer) { stop(); } else { start(); } });
  document.getElementById("back").addEventListener("click", function () { stop(); go(index - 1); });
  document.getElementById("forward").addEventListener("click", function () { stop(); go(index + 1); });
  speed.addEventListener("change", function () { if (timer) { start(); } });
  slider.addEventListener("input", function () { stop(); go(Number(slider.value)); });
  document.addEventListener("keydown", function (event) {
    if (event.key === "ArrowLeft") { stop(); go(index - 1); }
    else if (event.key === "ArrowRight") { stop(); go(index + 1); }
    else if (event.key === " ") { event.preventDefault(); if (timer) { stop(); } else { start(); } }
  });
  render();
}());
</script>
</body>
</html>
"""
