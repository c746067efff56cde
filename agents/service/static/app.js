// The page's entry point: interface language, knowledge base and answer language pickers, tabs,
// the API key, and the four views (ask.js, chat.js, search.js, write.js). No framework, no build.

import { api, apiKey, setApiKey } from "./api.js";
import { setupAsk } from "./ask.js";
import { setupChat } from "./chat.js";
import { setupKb } from "./kb.js";
import { languageName, pickLanguage, setLanguage, t, translatePage } from "./i18n.js";
import { setupSearch } from "./search.js";
import { $, clearError, el, onAuthRequired, showError } from "./ui.js";
import { setupWrite } from "./write.js";

// answer languages offered by name; any other is still answered when asked in it ("auto")
const ANSWER_LANGUAGES = ["en", "zh", "ja", "ko", "de", "fr", "es", "it", "pt", "nl", "ru", "pl"];
const TABS = ["ask", "chat", "search", "write", "kb"];
const stored = (key) => localStorage.getItem(`babelrag.${key}`) || "";
const store = (key, value) => (value ? localStorage.setItem(`babelrag.${key}`, value) : localStorage.removeItem(`babelrag.${key}`));

const state = {
  kb: "",
  answerLang: stored("answerLang"),
  /** A chat session was opened: show its language without changing it. */
  showSessionLanguage(lang) {
    state.answerLang = lang;
    $("answer-lang").value = lang;
  },
};

function fillAnswerLanguages() {
  const select = $("answer-lang");
  select.replaceChildren(
    el("option", { value: "" }, t("lang.auto")),
    ...ANSWER_LANGUAGES.map((code) => el("option", { value: code }, `${languageName(code)} (${code})`)),
  );
  select.value = state.answerLang;
}

function applyLanguage(lang) {
  setLanguage(lang);
  $("ui-lang").value = lang;
  translatePage();
  fillAnswerLanguages();
}

async function loadKnowledgeBases(defaultKb) {
  const select = $("kb");
  let names = [];
  try {
    names = Object.entries(await api.kbs());
  } catch (error) {
    showError(error);
  }
  const known = new Set(names.map(([name]) => name));
  if (defaultKb && !known.has(defaultKb)) names.unshift([defaultKb, null]); // not listed (yet)
  select.replaceChildren(
    ...(names.length
      ? names.map(([name, chunks]) => el("option", { value: name }, chunks === null ? name : `${name} (${chunks})`))
      : [el("option", { value: "" }, t("kb.none"))]),
  );
  const remembered = stored("kb");
  state.kb = known.has(remembered) ? remembered : defaultKb || names[0]?.[0] || "";
  select.value = state.kb;
}

function setupTabs() {
  const tabs = TABS.map((name) => $(`tab-${name}`));
  function select(name, focus = false) {
    for (const tab of tabs) {
      const on = tab.id === `tab-${name}`;
      tab.setAttribute("aria-selected", String(on));
      tab.tabIndex = on ? 0 : -1;
      $(tab.getAttribute("aria-controls")).hidden = !on;
      if (on && focus) tab.focus();
    }
    if (location.hash !== `#${name}`) history.replaceState(null, "", `#${name}`);
    document.dispatchEvent(new CustomEvent("babelrag:tab", { detail: name }));
  }
  tabs.forEach((tab, i) => {
    tab.addEventListener("click", () => select(TABS[i]));
    tab.addEventListener("keydown", (event) => {
      const step = { ArrowRight: 1, ArrowLeft: -1, Home: -i, End: TABS.length - 1 - i }[event.key];
      if (step === undefined) return;
      event.preventDefault();
      select(TABS[(i + step + TABS.length) % TABS.length], true);
    });
  });
  const initial = location.hash.slice(1);
  select(TABS.includes(initial) ? initial : "ask");
}

function setupApiKey(required, defaultKb) {
  const box = $("api-key");
  const show = () => {
    box.hidden = false;
    $("api-key-input").focus();
  };
  onAuthRequired(show);
  if (required) box.hidden = false;
  $("api-key-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    setApiKey($("api-key-input").value.trim());
    $("api-key-input").value = "";
    box.hidden = true;
    clearError();
    await loadKnowledgeBases(state.kb || defaultKb);
  });
  $("api-key-clear").addEventListener("click", () => {
    setApiKey("");
    $("api-key-input").value = "";
  });
}

async function main() {
  applyLanguage(stored("uiLang") || pickLanguage(navigator.languages || [navigator.language]));
  $("ui-lang").addEventListener("change", (event) => {
    store("uiLang", event.target.value);
    applyLanguage(event.target.value);
    document.dispatchEvent(new CustomEvent("babelrag:language")); // views redraw what they show
  });
  setupTabs();
  let health = null;
  try {
    health = await api.health();
  } catch (error) {
    showError(error);
  }
  const needsKey = Boolean(health?.auth) && !apiKey();
  setupApiKey(needsKey, health?.kb || "");
  if (!needsKey) await loadKnowledgeBases(health?.kb || "");
  setupAsk(state);
  setupSearch(state);
  setupWrite(state);
  const chat = setupChat(state);
  const kb = setupKb(state, {
    async onChanged(name) {
      store("kb", name);
      await loadKnowledgeBases(name);
    },
  });
  $("kb").addEventListener("change", (event) => {
    state.kb = event.target.value;
    store("kb", state.kb);
    if (!$("panel-kb").hidden) kb.show();
  });
  $("answer-lang").addEventListener("change", (event) => {
    state.answerLang = event.target.value;
    store("answerLang", state.answerLang);
    chat.setLanguage(state.answerLang);
  });
  const onTab = { chat: () => chat.refresh(), kb: () => kb.show() };
  document.addEventListener("babelrag:tab", (event) => onTab[event.detail]?.());
  onTab[location.hash.slice(1)]?.();
  document.body.dataset.ready = "true"; // the tests wait for this
}

main();
