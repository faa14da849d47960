// The web chat: posts to /api/chat/*, renders replies as text (never as HTML), and listens for staff replies.
(function () {
  "use strict";
  const root = document.getElementById("chat");
  const form = document.getElementById("ask");
  const log = document.getElementById("log");
  const csrf = form.elements.csrf.value;
  const w = root.dataset;
  const lang = w.lang;
  let lastId = parseInt(w.lastId || "0", 10);

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function add(cls, text) {
    const li = el("li", cls);
    li.appendChild(el("span", "text", text));
    log.appendChild(li);
    li.scrollIntoView({block: "end"});
    return li;
  }
  async function post(path, body) {
    let resp;
    try {
      resp = await fetch(path, {
        method: "POST", credentials: "same-origin",
        headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
        body: JSON.stringify(Object.assign({lang: lang}, body || {})),
      });
    } catch (e) {  // the server cannot be reached at all: treated like "busy"
      return {error: w.wError, busy: true, retryAfter: 5};
    }
    let data = {};
    try { data = await resp.json(); } catch (e) { data = {error: w.wError}; }
    if (!resp.ok && !data.error) data.error = w.wError;
    if (resp.status === 503) {
      data.busy = true;
      data.retryAfter = parseInt(resp.headers.get("Retry-After") || "5", 10) || 5;
    }
    return data;
  }
  const sleep = (ms) => new Promise((done) => setTimeout(done, ms));
  const GIVE_UP_MS = 120000;
  // A question that meets a busy server (503: nothing was stored) is kept and sent again, with one
  // notice; after two minutes it goes back into the input box, so the visitor never loses it.
  async function ask(text) {
    add("user", text);
    const started = Date.now();
    let notice = null;
    for (;;) {
      const data = await post("/api/chat/ask", {text: text});
      if (!data.busy) {
        if (notice) notice.remove();
        render(data);
        return;
      }
      if (Date.now() - started > GIVE_UP_MS) {
        if (notice) notice.remove();
        add("bot error", w.wDelayGaveUp);
        if (!form.elements.text.value) form.elements.text.value = text;
        return;
      }
      if (!notice) notice = add("bot notice delay", w.wDelay);
      await sleep(Math.min(data.retryAfter, 10) * 1000);
    }
  }
  function buttons(li, items, cls) {
    const box = el("div", cls);
    for (const item of items) {
      const b = el("button", "choice", item.question);
      b.type = "button";
      b.addEventListener("click", () => send("/api/chat/choose", {entry_id: item.entry_id}, item.question));
      box.appendChild(b);
    }
    li.appendChild(box);
  }
  function render(data) {
    if (data.error) return add("bot error", data.error);
    if (data.kind === "thanks") return null;
    const li = add("bot " + (data.kind || "notice"), data.text || "");
    if (data.kind === "answer") {
      const meta = el("div", "meta");
      for (const url of data.sources || []) {
        if (!/^https?:\/\//.test(url)) continue;
        const a = el("a", "source", url);
        a.href = url; a.rel = "noopener noreferrer"; a.target = "_blank";
        meta.appendChild(a);
      }
      if (data.reviewed) meta.appendChild(el("span", "reviewed", w.wReviewed + " " + data.reviewed));
      li.appendChild(meta);
    }
    if ((data.choices || []).length) {
      buttons(li, data.choices, "choices");
      const h = el("button", "choice person", w.wAskPerson);
      h.type = "button";
      h.addEventListener("click", askPerson);
      li.lastChild.appendChild(h);
    }
    if ((data.related || []).length) {
      li.appendChild(el("div", "related-title", w.wRelated));
      buttons(li, data.related, "related");
    }
    if (data.log_id && data.kind === "answer") {
      const fb = el("div", "feedback");
      fb.appendChild(el("span", "", w.wHelpful + " "));
      for (const [label, helpful] of [[w.wYes, true], [w.wNo, false]]) {
        const b = el("button", "fb", label);
        b.type = "button";
        b.addEventListener("click", async () => {
          fb.remove();
          render(await post("/api/chat/feedback", {log_id: data.log_id, helpful: helpful}));
        });
        fb.appendChild(b);
      }
      li.appendChild(fb);
    }
    return li;
  }
  async function send(path, body, shown) {
    if (shown) add("user", shown);
    render(await post(path, body));
  }
  async function askPerson() { await send("/api/chat/human", {}, w.wAskPerson); }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const text = form.elements.text.value.trim();
    if (!text) return;
    if (text.length > parseInt(w.max, 10)) { add("bot error", w.wTooLong); return; }
    form.elements.text.value = "";
    await ask(text);
  });
  document.getElementById("human").addEventListener("click", askPerson);
  document.getElementById("status").addEventListener("click", () => send("/api/chat/status", {}));
  document.getElementById("withdraw").addEventListener("click", () => send("/api/chat/withdraw", {}));
  document.getElementById("forget").addEventListener("click", async () => {
    if (!window.confirm(w.wForgetConfirm)) return;
    const data = await post("/api/chat/forget", {confirm: true});
    log.textContent = "";
    render(data);
  });

  // Staff replies: the stream only says "something new"; the messages come from /api/chat/messages.
  let fetching = false;
  async function catchUp() {
    if (fetching) return;
    fetching = true;
    try {
      const resp = await fetch("/api/chat/messages?since=" + lastId, {credentials: "same-origin"});
      if (!resp.ok) return;
      const data = await resp.json();
      for (const m of data.messages) {
        lastId = Math.max(lastId, m.id);
        const li = add("bot " + m.sender, m.text);
        if (m.sender === "staff") li.insertBefore(el("span", "who", w.wStaff), li.firstChild);
      }
    } finally { fetching = false; }
  }
  if (!lastId) {
    // a fresh page: start after whatever already exists, so old replies are not repeated
    fetch("/api/chat/messages?since=0", {credentials: "same-origin"}).then((r) => r.ok ? r.json() : {messages: []})
      .then((d) => { for (const m of d.messages) lastId = Math.max(lastId, m.id); });
  }
  if (window.EventSource) {
    const source = new EventSource("/api/chat/events");
    source.addEventListener("update", catchUp);
    source.addEventListener("open", catchUp);
  }
  setInterval(catchUp, 30000);
})();
