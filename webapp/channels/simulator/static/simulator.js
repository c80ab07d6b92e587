// The local phone (webapp/simulator.py). Renders only the server's message feed, so a reply is
// shown once whether it came back at once (stored with status "replied") or later from a
// worker. Message bodies are only ever set with textContent: never parsed as HTML.
(function () {
  "use strict";

  var POLL_MS = 1000;
  var HIDDEN_POLL_MS = 5000;
  // Outbound texts still on their way; the feed is re-read from the oldest of these so the
  // status shown under them catches up ("sending…" -> "delivered"), for at most a minute.
  var NOT_FINAL = { queued: true, sending: true };
  var TRACK_MS = 60000;
  var STATUS_LABELS = {
    // workers/outbound.py's statuses, then Twilio's later ones (webapp/delivery_status.py).
    queued: "sending…",
    sending: "sending…",
    sent: "sent",
    simulated: "sent (simulated, no Twilio)",
    delivered: "delivered",
    undelivered: "not delivered",
    failed: "not delivered",
    unknown: "delivery unknown",
    suppressed: "not sent (opted out)"
  };

  var root = document.getElementById("simulator");
  var agent = root.dataset.agent;
  var feedUrl = root.dataset.feedUrl;
  var sendUrl = root.dataset.sendUrl;
  var thread = document.getElementById("messages");
  var notice = document.getElementById("notice");
  var form = document.getElementById("composer");
  var input = document.getElementById("text");
  var button = document.getElementById("send");
  var select = document.getElementById("agent");

  var shown = new Map(); // id -> {meta: element, status: string, seenAt: ms}
  var lastId = 0;
  var polling = false;
  var pollAgain = false;
  var timer = null;
  var sending = false;
  var loaded = false;

  function showNotice(text) {
    notice.textContent = text;
    notice.hidden = !text;
  }

  function timeOf(iso) {
    if (!iso) return "";
    var when = new Date(iso);
    if (isNaN(when.getTime())) return "";
    return when.toLocaleTimeString([], { hour: "numeric", minute: "2-digit" });
  }

  function metaText(m) {
    var parts = [timeOf(m.created_at)];
    if (m.direction === "outbound" && m.status !== "replied") {
      parts.push(STATUS_LABELS[m.status] || m.status);
    }
    if (m.channel && m.channel !== "sms") parts.push(m.channel);
    return parts.filter(Boolean).join(" · ");
  }

  function nearBottom() {
    return thread.scrollHeight - thread.scrollTop - thread.clientHeight < 80;
  }

  function add(m) {
    var item = document.createElement("li");
    var mine = m.direction === "inbound"; // the agent's own texts: this phone sent them
    item.className = "msg " + (mine ? "mine" : "theirs");
    if (m.status === "failed" || m.status === "undelivered") item.className += " problem";
    item.dataset.id = String(m.id);
    item.dataset.direction = m.direction;
    item.dataset.status = m.status;
    var bubble = document.createElement("div");
    bubble.className = "bubble";
    bubble.textContent = m.body;
    var meta = document.createElement("div");
    meta.className = "meta";
    meta.textContent = metaText(m);
    item.appendChild(bubble);
    item.appendChild(meta);
    thread.insertBefore(item, replyPlace(m));
    shown.set(m.id, { item: item, meta: meta, status: m.status, seenAt: Date.now() });
  }

  // Where a row goes: at the end, except an immediate reply ("replied"), which goes right
  // after the text it answers. SmsInbound records that reply only after the conversation has
  // queued the plan, so a fast worker's "✅ Done!" can get the smaller id; on the phone the
  // answer to a text still belongs under that text. The text it answers is the agent's latest
  // text before it (the reply is recorded in the same request as that text).
  function replyPlace(m) {
    if (m.direction !== "outbound" || m.status !== "replied") return null;
    var items = thread.children;
    for (var i = items.length - 1; i >= 0; i--) {
      var id = Number(items[i].dataset.id);
      if (id < m.id && items[i].dataset.direction === "inbound") return items[i].nextSibling;
      if (id < m.id && items[i].dataset.status === "replied") return null;
    }
    return null;
  }

  function update(m) {
    var known = shown.get(m.id);
    if (known.status === m.status) return;
    known.status = m.status;
    known.meta.textContent = metaText(m);
    known.item.classList.toggle("problem", m.status === "failed" || m.status === "undelivered");
  }

  function feedStart() {
    var oldest = null;
    var now = Date.now();
    shown.forEach(function (known, id) {
      if (NOT_FINAL[known.status] && now - known.seenAt < TRACK_MS && (oldest === null || id < oldest)) {
        oldest = id;
      }
    });
    return oldest === null ? lastId : oldest - 1;
  }

  function schedule(ms) {
    clearTimeout(timer);
    timer = setTimeout(poll, ms);
  }

  function poll() {
    if (polling) { pollAgain = true; return; }
    polling = true;
    // The first read (no `after`) is the latest history; then only what is new.
    var url = feedUrl + "?agent=" + encodeURIComponent(agent) +
      (loaded ? "&after=" + feedStart() : "");
    var more = false;
    fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (response) {
        if (!response.ok) throw new Error("the message feed answered " + response.status);
        return response.json();
      })
      .then(function (data) {
        var stick = nearBottom();
        var added = false;
        data.messages.forEach(function (m) {
          if (shown.has(m.id)) { update(m); return; }
          add(m);
          added = true;
          if (m.id > lastId) lastId = m.id;
        });
        more = Boolean(data.more);
        if (added && (stick || !loaded)) thread.scrollTop = thread.scrollHeight;
        loaded = true;
        if (notice.dataset.kind === "feed") { showNotice(""); notice.dataset.kind = ""; }
      })
      .catch(function (error) {
        notice.dataset.kind = "feed";
        showNotice("Can't reach the app (" + error.message + "); retrying…");
      })
      .then(function () {
        polling = false;
        var next = more || pollAgain ? 0 : (document.hidden ? HIDDEN_POLL_MS : POLL_MS);
        pollAgain = false;
        schedule(next);
      });
  }

  function send() {
    var text = input.value;
    if (sending || text.length === 0) return;
    sending = true;
    button.disabled = true;
    input.value = "";
    fetch(sendUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ agent: agent, text: text })
    })
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (data) {
          if (!response.ok) throw new Error(data.error || "the app answered " + response.status);
          notice.dataset.kind = "";
          showNotice("");
        });
      })
      .catch(function (error) {
        if (!input.value) input.value = text; // give the text back to retry
        notice.dataset.kind = "send";
        showNotice("Not sent: " + error.message);
      })
      .then(function () {
        sending = false;
        button.disabled = false;
        input.focus();
        poll();
      });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    send();
  });

  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      send();
    }
  });

  select.addEventListener("change", function () {
    var params = new URLSearchParams(window.location.search);
    params.set("agent", select.value);
    window.location.search = params.toString();
  });

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) schedule(0);
  });

  poll();
})();
