// Chat: saved sessions (list, new, delete, continue) and streamed turns. A session keeps its own
// knowledge base and answer language; the header's language picker sets the open session's.

import { api } from "./api.js";
import { AnswerView } from "./answer.js";
import { langAttribute, languageName, t } from "./i18n.js";
import { $, clearError, el, showError, sourceList, withCitations } from "./ui.js";

export function setupChat(state) {
  const list = $("session-list");
  const turns = $("chat-turns");
  const form = $("chat-form");
  const input = $("chat-input");
  let current = null; // the open Session
  let busy = false;

  async function refresh() {
    try {
      const sessions = await api.sessions();
      list.replaceChildren(
        ...(sessions.length ? sessions.map(sessionItem) : [el("li", { class: "muted" }, t("chat.empty"))]),
      );
    } catch (error) {
      showError(error);
    }
  }

  function sessionItem(summary) {
    const date = new Date(summary.created * 1000).toLocaleString(document.documentElement.lang, {
      dateStyle: "short",
      timeStyle: "short",
    });
    return el(
      "li",
      { class: "session", dataset: { id: summary.id } },
      el(
        "button",
        {
          type: "button",
          class: "link open",
          "aria-current": current?.id === summary.id ? "true" : null,
          onclick: () => open(summary.id),
        },
        el("span", { class: "title" }, summary.title || t("chat.untitled")),
        el("span", { class: "muted small" }, `${summary.kb} · ${t("chat.turns", { n: summary.turns })} · ${date}`),
      ),
      el(
        "button",
        {
          type: "button",
          class: "icon delete",
          "aria-label": `${t("chat.delete")}: ${summary.title || summary.id}`,
          title: t("chat.delete"),
          onclick: () => remove(summary.id),
        },
        trashIcon(),
      ),
    );
  }

  function trashIcon() {
    // drawn here: an emoji needs a colour font that many Linux desktops lack
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "18");
    svg.setAttribute("height", "18");
    svg.setAttribute("aria-hidden", "true");
    const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
    path.setAttribute("d", "M4 7h16M10 11v6M14 11v6M6 7l1 13h10l1-13M9 7V4h6v3");
    for (const [k, v] of Object.entries({ fill: "none", stroke: "currentColor", "stroke-width": "2", "stroke-linecap": "round", "stroke-linejoin": "round" })) {
      path.setAttribute(k, v);
    }
    svg.append(path);
    return svg;
  }

  async function open(id, focus = true) {
    clearError();
    try {
      current = await api.session(id);
    } catch (error) {
      showError(error);
      return;
    }
    state.showSessionLanguage(current.lang || "");
    turns.replaceChildren(...pairs(current.turns));
    markCurrent();
    if (focus) input.focus();
  }

  function markCurrent() {
    for (const button of list.querySelectorAll(".session .open")) {
      const on = button.parentElement.dataset.id === current?.id;
      if (on) button.setAttribute("aria-current", "true");
      else button.removeAttribute("aria-current");
    }
  }

  function pairs(saved) {
    if (!saved.length) return [el("li", { class: "muted hint" }, t("chat.start"))];
    return saved.map((turn) => (turn.role === "user" ? userTurn(turn.content, turn.lang, turn.standalone) : savedAnswer(turn)));
  }

  function userTurn(text, lang, standalone) {
    return el(
      "li",
      { class: "turn user" },
      el("span", { class: "who" }, t("chat.you")),
      el("p", { lang: langAttribute(lang) }, text),
      standalone ? el("p", { class: "muted small", lang: langAttribute(lang) }, `${t("chat.searched_as")}: ${standalone}`) : null,
    );
  }

  function savedAnswer(turn) {
    const byRef = new Map((turn.sources || []).map((s) => [s.ref, s]));
    return el(
      "li",
      { class: "turn assistant" },
      el("span", { class: "who" }, t("chat.assistant")),
      el("p", { class: "meta" }, el("span", { class: "badge" }, turn.lang), " ", t("ask.answered_in", { lang: languageName(turn.lang) })),
      el("div", { class: "answer-text", lang: langAttribute(turn.lang) }, withCitations(turn.content, (n) => byRef.get(n), current.kb)),
      el("div", { class: "sources" }, sourceList(turn.sources || [], current.kb)),
    );
  }

  async function create() {
    clearError();
    try {
      current = await api.createSession({ kb: state.kb || null, lang: state.answerLang || null });
    } catch (error) {
      showError(error);
      return null;
    }
    turns.replaceChildren(...pairs([]));
    await refresh();
    markCurrent();
    input.focus();
    return current;
  }

  async function remove(id) {
    if (!confirm(t("chat.delete_confirm"))) return;
    try {
      await api.deleteSession(id);
    } catch (error) {
      showError(error);
      return;
    }
    if (current?.id === id) {
      current = null;
      turns.replaceChildren();
    }
    await refresh();
  }

  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  $("chat-new").addEventListener("click", create);
  document.addEventListener("babelrag:language", async () => {
    if (busy) return; // a turn is streaming: its labels switch with the next redraw
    await refresh();
    if (current) await open(current.id, false);
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const message = input.value.trim();
    if (!message || busy) return;
    if (!current && !(await create())) return;
    busy = true;
    $("chat-send").disabled = true;
    clearError();
    turns.querySelector(".hint")?.remove();
    const asked = userTurn(message, current.lang || "");
    turns.append(asked);
    const answer = el("li", { class: "turn assistant", "aria-busy": "true" });
    const body = el("div");
    answer.append(el("span", { class: "who" }, t("chat.assistant")), body);
    turns.append(answer);
    input.value = "";
    const view = new AnswerView(body, { kb: current.kb, forcedLang: current.lang || "", timings: false });
    try {
      const result = await api.turn(current.id, message, (name, data) => view.onEvent(name, data));
      view.finish(result);
      asked.querySelector("p").lang = langAttribute(result.lang);
      answer.setAttribute("aria-busy", "false");
      await refresh();
      markCurrent();
    } catch (error) {
      view.fail();
      showError(error);
    } finally {
      busy = false;
      $("chat-send").disabled = false;
    }
  });

  return {
    refresh,
    /** The header's answer language changed: the open session answers in it from now on. */
    async setLanguage(lang) {
      if (!current) return;
      try {
        current = await api.updateSession(current.id, { lang: lang || null });
      } catch (error) {
        showError(error);
      }
    },
  };
}
