// Posts each question as JSON and shows the reply; the answer text is inserted as text, never as HTML.
(function () {
  const form = document.getElementById("ask");
  const log = document.getElementById("log");
  const csrf = form.elements.csrf.value;
  function add(cls, text) {
    const li = document.createElement("li");
    li.className = cls;
    li.textContent = text;
    log.appendChild(li);
    return li;
  }
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const text = form.elements.text.value.trim();
    if (!text) return;
    add("user", text);
    form.elements.text.value = "";
    const resp = await fetch("/api/chat/ask", {
      method: "POST", headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
      body: JSON.stringify({text}),
    });
    const data = await resp.json();
    const li = add("bot " + (data.kind || "error"), data.text || data.error);
    for (const c of data.choices || []) {
      const b = document.createElement("div");
      b.className = "choice";
      b.textContent = "• " + c.question;
      li.appendChild(b);
    }
  });
})();
