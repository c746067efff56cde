// Knowledge base: what the chosen one holds (passages, languages, documents) and uploads into it
// or into a new one (the server saves the files in its data directory and ingests them).

import { api } from "./api.js";
import { languageName, t } from "./i18n.js";
import { $, basename, clearError, el, showError } from "./ui.js";

const SHOWN_SOURCES = 50;

export function setupKb(state, { onChanged }) {
  const info = $("kb-info");
  const status = $("upload-status");

  async function show() {
    $("upload-kb").value ||= state.kb;
    if (!state.kb) {
      info.replaceChildren(el("p", { class: "muted" }, t("kb.none")));
      return;
    }
    try {
      render(await api.kbInfo(state.kb));
    } catch (error) {
      if (error.status === 404) info.replaceChildren(el("h2", {}, state.kb), el("p", { class: "muted" }, t("kbinfo.empty")));
      else showError(error);
    }
  }

  function render(kb) {
    const sources = Object.entries(kb.sources).sort(([a], [b]) => a.localeCompare(b));
    const languages = Object.entries(kb.languages).sort(([, a], [, b]) => b - a);
    info.replaceChildren(
      el("h2", {}, kb.kb),
      el("p", { class: "muted" }, t("kbinfo.chunks", { n: kb.chunks, files: sources.length })),
      el(
        "dl",
        { class: "facts" },
        el("dt", {}, t("kbinfo.embedder")),
        el("dd", { class: "path" }, kb.embedder || "—"),
        el("dt", {}, t("kbinfo.languages")),
        el(
          "dd",
          { class: "chips" },
          languages.map(([code, n]) => el("span", { class: "badge", title: languageName(code) }, `${languageName(code)} ${n}`)),
        ),
      ),
      sources.length
        ? el(
            "details",
            { class: "sources-of-kb" },
            el("summary", {}, `${t("kbinfo.sources")} (${sources.length})`),
            el(
              "ul",
              {},
              sources.slice(0, SHOWN_SOURCES).map(([path, n]) =>
                el("li", {}, el("span", { class: "path", title: path }, basename(path)), ` · ${n}`),
              ),
              sources.length > SHOWN_SOURCES ? el("li", { class: "muted" }, t("kbinfo.more", { n: sources.length - SHOWN_SOURCES })) : null,
            ),
          )
        : el("p", { class: "muted" }, t("kbinfo.empty")),
    );
  }

  document.addEventListener("babelrag:language", () => !$("panel-kb").hidden && show());

  $("upload-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const files = [...$("upload-files").files];
    const target = $("upload-kb").value.trim();
    if (!files.length || !target) return;
    clearError();
    status.textContent = t("upload.working");
    $("upload-submit").disabled = true;
    try {
      const report = await api.upload(target, files);
      $("upload-form").reset();
      await onChanged(report.kb);
      $("upload-kb").value = state.kb;
      await show();
      status.replaceChildren(
        t("upload.done", {
          added: report.added.length,
          updated: report.updated.length,
          unchanged: report.unchanged.length,
          failed: report.failed.length,
          chunks: report.chunks_embedded,
        }),
        ...(report.failed.length
          ? [el("ul", { class: "failed" }, report.failed.map(([path, why]) => el("li", {}, `${t("upload.failed")}: ${basename(path)} — ${why}`)))]
          : []),
      );
    } catch (error) {
      status.textContent = "";
      showError(error);
    } finally {
      $("upload-submit").disabled = false;
    }
  });

  return { show };
}
