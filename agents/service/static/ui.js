// What every view shares: building DOM nodes (server text only ever becomes text nodes, never
// HTML), answers with clickable citations, the passage dialog, errors, downloads.

import { api, ApiError } from "./api.js";
import { langAttribute, languageName, t } from "./i18n.js";

export const $ = (id) => document.getElementById(id);

/** A new element: ``el("p", {class: "x", lang: "zh"}, "text", child)``; null/false attributes are skipped. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** ``[n]`` markers in ``text`` as buttons that open the cited passage; the rest stays text. */
export function withCitations(text, sourceFor, kb) {
  const parts = [];
  let last = 0;
  for (const match of text.matchAll(/\[(\d+)\]/g)) {
    const source = sourceFor(Number(match[1]));
    if (!source) continue;
    parts.push(text.slice(last, match.index));
    parts.push(
      el(
        "button",
        {
          type: "button",
          class: "cite",
          "aria-label": `${t("ask.sources")} ${match[1]}: ${source.title || source.source}`,
          "aria-haspopup": "dialog",
          onclick: () => openPassage(source, kb),
        },
        match[1],
      ),
    );
    last = match.index + match[0].length;
  }
  parts.push(text.slice(last));
  return parts;
}

/** The numbered source list under an answer: each entry opens its passage. */
export function sourceList(sources, kb, key = "ref") {
  if (!sources.length) return null;
  return el(
    "ol",
    { class: "source-list" },
    sources.map((source, i) =>
      el(
        "li",
        { value: source[key] ?? i + 1 },
        el(
          "button",
          { type: "button", class: "link", "aria-haspopup": "dialog", onclick: () => openPassage(source, kb) },
          el("span", { class: "title", lang: langAttribute(source.lang) }, source.title || basename(source.source)),
        ),
        " ",
        el("span", { class: "badge", title: languageName(source.lang) }, source.lang),
        " ",
        el("span", { class: "path" }, basename(source.source)),
      ),
    ),
  );
}

export function basename(path) {
  return String(path || "").split(/[\\/]/).pop();
}

/** Show a passage in the dialog at once, then its neighbouring text when the server has it. */
export async function openPassage(hit, kb) {
  const dialog = $("passage");
  $("passage-title").textContent = hit.title || basename(hit.source);
  $("passage-title").lang = langAttribute(hit.lang);
  $("passage-source").textContent = hit.source;
  $("passage-lang").textContent = `${languageName(hit.lang)} (${hit.lang})`;
  const context = hit.metadata?.context || "";
  $("passage-context").textContent = context;
  $("passage-context").lang = langAttribute(hit.lang);
  $("passage-context").previousElementSibling.hidden = !context;
  $("passage-context").hidden = !context;
  const body = dialog.querySelector(".passage-body");
  body.lang = langAttribute(hit.lang);
  $("passage-text").textContent = hit.text;
  for (const id of ["passage-before", "passage-after"]) $(id).hidden = true;
  dialog.dataset.id = hit.id;
  if (!dialog.open) dialog.showModal();
  if (!kb || !hit.id) return;
  try {
    const passage = await api.passage(kb, hit.id);
    if (dialog.dataset.id !== hit.id) return; // another passage was opened meanwhile
    for (const [id, text] of [["passage-before", passage.before], ["passage-after", passage.after]]) {
      $(id).textContent = text ? (id === "passage-before" ? `… ${text}` : `${text} …`) : "";
      $(id).hidden = !text;
    }
  } catch {
    /* the hit alone is enough to show */
  }
}

let keyPrompt = () => {};
export function onAuthRequired(callback) {
  keyPrompt = callback;
}

/** Show ``error`` in the page's alert line (and ask for an API key on 401). */
export function showError(error) {
  if (error?.name === "AbortError") return;
  const alert = $("alert");
  let message;
  if (error instanceof ApiError) {
    if (error.status === 401) keyPrompt();
    message = error.status === 503 && error.retryAfter
      ? t("error.busy", { s: error.retryAfter })
      : t("error.generic", { message: error.message + (error.hint ? ` (${error.hint})` : "") });
  } else if (error instanceof TypeError) {
    message = t("error.network");
  } else {
    message = t("error.generic", { message: String(error?.message || error) });
  }
  alert.textContent = message;
  alert.hidden = false;
}

export function clearError() {
  $("alert").hidden = true;
  $("alert").textContent = "";
}

/** Save ``text`` as a file named ``name`` (UTF-8, so CJK survives every editor that reads a BOM-less file). */
export function download(name, text, type) {
  const url = URL.createObjectURL(new Blob([text], { type: `${type};charset=utf-8` }));
  const link = el("a", { href: url, download: name, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** Seconds with two decimals, or "–". */
export function seconds(value) {
  return typeof value === "number" ? value.toFixed(2) : "–";
}
