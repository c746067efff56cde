// One answer as it streams and once it is checked: shared by Ask and Chat. While tokens arrive
// the raw text grows in place; the `result` event replaces it with the checked answer, whose
// [n] markers open the cited passages.

import { langAttribute, languageName, t } from "./i18n.js";
import { el, seconds, sourceList, withCitations } from "./ui.js";

export class AnswerView {
  /** ``root`` gets a meta line, the text, a status line and the sources; ``forcedLang`` = the chosen language or "". */
  constructor(root, { kb, forcedLang = "", timings = true }) {
    this.kb = kb;
    this.forcedLang = forcedLang;
    this.showTimings = timings;
    this.started = performance.now();
    this.meta = el("p", { class: "meta" });
    this.text = el("div", { class: "answer-text streaming" });
    this.status = el("p", { class: "status", role: "status" }, t("ask.searching"));
    this.sources = el("div", { class: "sources" });
    root.replaceChildren(this.meta, this.text, this.status, this.sources);
    root.setAttribute("aria-busy", "true");
    this.root = root;
    if (forcedLang) this.text.lang = langAttribute(forcedLang);
  }

  /** An SSE event from /v1/ask or a session turn. */
  onEvent(name, data) {
    if (name === "queued" && data.position > 0) this.status.textContent = `${t("ask.searching")} (#${data.position + 1})`;
    else if (name === "start") this.status.textContent = t("ask.generating");
    else if (name === "token") {
      if (!this.text.firstChild) this.status.textContent = t("ask.generating");
      this.text.append(data.text);
    }
  }

  /** The checked answer (an AnswerResponse) replaces the streamed text. */
  finish(result) {
    const byRef = new Map(result.sources.map((s) => [s.ref, s]));
    this.text.classList.remove("streaming");
    this.text.classList.toggle("no-answer", result.no_answer);
    this.text.lang = langAttribute(result.lang);
    this.text.replaceChildren(...withCitations(result.answer, (n) => byRef.get(n), this.kb));
    this.meta.replaceChildren(
      el("span", { class: "badge" }, result.lang),
      " ",
      t("ask.answered_in", { lang: languageName(result.lang) }),
      " ",
      el("span", { class: "muted" }, this.forcedLang ? t("ask.forced") : t("ask.auto")),
    );
    const translations = Object.entries(result.translations || {});
    this.sources.replaceChildren(
      ...(result.sources.length ? [el("h3", {}, t("ask.sources")), sourceList(result.sources, this.kb)] : []),
      ...(translations.length
        ? [
            el(
              "p",
              { class: "muted translations" },
              `${t("ask.translations")}: `,
              translations.flatMap(([lang, text], i) => [
                i ? " · " : "",
                el("span", { lang: langAttribute(lang) }, text),
              ]),
            ),
          ]
        : []),
    );
    const timings = result.timings || {};
    this.status.textContent = this.showTimings ? timingLine(timings, (performance.now() - this.started) / 1000) : "";
    this.root.setAttribute("aria-busy", "false");
    this.root.dataset.state = "done";
  }

  fail() {
    this.text.classList.remove("streaming");
    this.status.textContent = "";
    this.root.setAttribute("aria-busy", "false");
    this.root.dataset.state = "failed";
  }
}

/** "3.10 s · search 0.41 s · generation 2.52 s", leaving out the steps the server did not time. */
function timingLine(timings, total) {
  const search = (timings.translate_s ?? 0) + (timings.retrieve_s ?? 0);
  const parts = [t("ask.time_total", { s: seconds(total) })];
  if ("retrieve_s" in timings) parts.push(t("ask.time_search", { s: seconds(search) }));
  if ("generate_s" in timings) parts.push(t("ask.time_generate", { s: seconds(timings.generate_s) }));
  return parts.join(" · ");
}
